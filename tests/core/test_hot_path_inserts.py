"""The paid-order path's INSERTs without the ORM's compilation (``core.core_db.save_new``),
psycopg's statement cache for the one-statement writes, and a prepared query's SQL sent
inside a larger statement (``PreparedQuery.statement``)."""

import re

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import db as core_db
from core.bound import bound_cursor
from core.prepared import PreparedQuery
from orders.models import Order
from payments.models import Payment
from tests.factories import UserFactory


def _order(learner, merchant_id, order_no="KNEW"):
    return Order(
        order_no=order_no,
        learner=learner,
        merchant_id=merchant_id,
        checkout_key=order_no,
        subtotal=100,
        total=100,
        currency="CNY",
        expires_at=timezone.now(),
    )


def _payment(order, payment_no, channel=None):
    return Payment(
        payment_no=payment_no,
        order=order,
        merchant_id=order.merchant_id,
        channel=channel or f"c-{payment_no}",  # one pending payment per order and channel
        gateway="sandbox",
        amount=order.total,
        currency="CNY",
        expires_at=order.expires_at,
    )


@pytest.mark.django_db
def test_save_new_sends_the_orms_insert_and_its_signals(learner, course):
    order = _order(learner, course.merchant_id)
    order.save(force_insert=True)
    seen = []

    def receiver(signal, sender, instance, **kwargs):
        seen.append((signal, instance.pk, kwargs.get("created")))

    pre_save.connect(receiver, sender=Payment, dispatch_uid="test-save-new-pre")
    post_save.connect(receiver, sender=Payment, dispatch_uid="test-save-new-post")
    try:
        with CaptureQueriesContext(connection) as orm:
            _payment(order, "PORM").save(force_insert=True)
        payment = _payment(order, "PNEW")
        with CaptureQueriesContext(connection) as ours:
            core_db.save_new(payment)
        again = _payment(order, "PNEW2")
        core_db.save_new(again)  # the shape's SQL, kept
    finally:
        pre_save.disconnect(sender=Payment, dispatch_uid="test-save-new-pre")
        post_save.disconnect(sender=Payment, dispatch_uid="test-save-new-post")

    # The same statement, but for the payment's number and its created_at.
    assert [_shape(q["sql"], "PNEW") for q in ours.captured_queries] == [
        _shape(q["sql"], "PORM") for q in orm.captured_queries
    ]
    assert payment.pk is not None and not payment._state.adding and payment._state.db == "default"
    stored = Payment.objects.get(pk=payment.pk)
    assert (stored.payment_no, stored.order_id, stored.amount) == ("PNEW", order.pk, 100)
    assert stored.created_at is not None and again.pk == Payment.objects.get(payment_no="PNEW2").pk
    assert seen[2:4] == [(pre_save, None, None), (post_save, payment.pk, True)]


def _shape(sql: str, payment_no: str) -> str:
    return re.sub(r"'[0-9-]+ [0-9:.]+(\+00:00)?'", "'<time>'", sql.replace(payment_no, "<no>"))


@pytest.mark.parametrize("cursor", [None, bound_cursor], ids=["django", "bound"])
@pytest.mark.django_db
def test_save_new_raises_the_orms_integrity_error(learner, course, cursor):
    order = _order(learner, course.merchant_id)
    order.save(force_insert=True)
    core_db.save_new(_payment(order, "PONCE", channel="sandbox"), cursor=cursor)
    with pytest.raises(IntegrityError), transaction.atomic():
        core_db.save_new(
            _payment(order, "PTWICE", channel="sandbox"), cursor=cursor
        )  # one pending per channel
    assert Payment.objects.filter(order=order).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_save_new_through_a_bound_cursor_stores_what_the_orm_stores(learner, course):
    # Payment start sends its payment's INSERT bound on the server and prepared: the row
    # must be the ORM's, field for field (the JSON action included).
    order = _order(learner, course.merchant_id)
    order.save(force_insert=True)
    by_orm = _payment(order, "PORM2", channel="sandbox")
    by_orm.action = {"kind": "redirect", "url": "https://example.invalid/?a=1&b=中"}
    by_orm.save(force_insert=True)
    bound = _payment(order, "PBOUND", channel="wechat_native")
    bound.action = dict(by_orm.action)
    core_db.save_new(bound, cursor=bound_cursor)
    core_db.save_new(again := _payment(order, "PBOUND2", channel="alipay_qr"), cursor=bound_cursor)
    stamped = ("id", "payment_no", "channel", "created_at")  # created_at: auto_now_add
    fields = [f.attname for f in Payment._meta.concrete_fields if f.attname not in stamped]
    orm_row, bound_row = (Payment.objects.filter(pk=pk).values(*fields).get() for pk in (by_orm.pk, bound.pk))
    assert bound_row == orm_row and again.pk == Payment.objects.get(payment_no="PBOUND2").pk
    assert bound.created_at == Payment.objects.get(pk=bound.pk).created_at
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['INSERT INTO "payments_payment"%'],
        )
        assert cursor.fetchone() == (1,)  # prepared once on this connection, reused


@pytest.mark.postgres
@pytest.mark.django_db
def test_statements_of_more_than_50_parameters_are_converted_once():
    from psycopg import _queries

    assert _queries.MAX_CACHED_STATEMENT_PARAMS >= core_db.STATEMENT_CACHE_PARAMS  # CoreConfig.ready
    values = list(range(60))
    sql = "SELECT " + ", ".join(["%s"] * len(values)) + " -- kpay statement cache test"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        hits = _queries._query2pg_client.cache_info().hits
        cursor.execute(sql, values)
        assert cursor.fetchone() == tuple(values)
    assert _queries._query2pg_client.cache_info().hits == hits + 1


@pytest.mark.django_db
def test_a_prepared_querys_statement_gives_its_row_by_column_name():
    user = UserFactory(first_name="Named")
    query = PreparedQuery(
        lambda username: type(user).objects.filter(username=username), username="\x00stand-in"
    )
    sql, params, columns = query.statement(username=user.username)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = dict(zip(columns, cursor.fetchone(), strict=True))
    assert row["id"] == user.pk and row["first_name"] == "Named"
    assert query.first(username=user.username) == user
