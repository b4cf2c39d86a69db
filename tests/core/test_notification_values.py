"""The notification's writes from values (``core.db.db_insert_rows``), values prepared
by a plan per shape (``core.db._prepared``), and transitions checked once
(``core.transitions``): the same outcomes as the ORM's way, invalid transitions refused."""

from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_fsm.signals import post_transition, pre_transition

from core import bound, db
from core.transitions import apply_transition, transition_row
from orders.models import Order, OrderStatusChange
from tests.factories import CourseFactory


@pytest.fixture
def order(learner):
    return Order.objects.create(
        order_no="KVALUES",
        learner=learner,
        merchant_id=CourseFactory().merchant_id,
        checkout_key="x",
        subtotal=100,
        total=100,
        currency="CNY",
        expires_at=timezone.now() + timedelta(minutes=30),
    )


@pytest.fixture
def transitions_seen():
    seen = []

    def record(sender, name, source, target, **kwargs):
        seen.append((name, source, target))

    pre_transition.connect(record, dispatch_uid="test.pre")
    post_transition.connect(record, dispatch_uid="test.post")
    yield seen
    pre_transition.disconnect(dispatch_uid="test.pre")
    post_transition.disconnect(dispatch_uid="test.post")


@pytest.mark.django_db
@pytest.mark.parametrize("drive", [apply_transition, transition_row])
def test_a_transition_not_allowed_is_refused_and_changes_nothing(order, drive, transitions_seen):
    at = timezone.now()
    refused = drive(order, "fulfil", history_model=OrderStatusChange, reason="r", at=at)  # not paid yet
    assert refused is None
    assert order.status == Order.Status.PENDING_PAYMENT and order.fulfilled_at is None
    assert transitions_seen == []  # refused before any signal


@pytest.mark.django_db
def test_an_allowed_transition_changes_the_state_once_and_gives_its_history_row(order, transitions_seen):
    at = timezone.now()
    row = transition_row(order, "mark_paid", history_model=OrderStatusChange, reason="paid", at=at)
    assert order.status == Order.Status.PAID and order.paid_at == at
    assert row == {
        "order_id": order.pk,
        "from_status": Order.Status.PENDING_PAYMENT,
        "to_status": Order.Status.PAID,
        "transition": "mark_paid",
        "actor_id": None,
        "reason": "paid",
        "created_at": at,
    }
    assert transitions_seen == [("mark_paid", "pending_payment", "paid")] * 2  # pre and post, once each
    # and the same rules after it: paid twice is refused
    assert transition_row(order, "mark_paid", history_model=OrderStatusChange, at=at) is None
    instance = apply_transition(order, "fulfil", history_model=OrderStatusChange, reason="given", at=at)
    assert (instance.order, instance.from_status, instance.to_status) == (order, "paid", "fulfilled")


def _history_rows(order, at):
    common = {"order_id": order.pk, "actor_id": None, "reason": "r", "created_at": at}
    return [
        {"from_status": "pending_payment", "to_status": "paid", "transition": "mark_paid", **common},
        {"from_status": "paid", "to_status": "fulfilled", "transition": "fulfil", **common},
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_rows_from_values_are_the_statement_and_parameters_of_the_instances(order):
    at = timezone.now()
    db._SHAPES.clear()
    for _ in range(2):  # compiled, then from the kept shape
        for unnest in (True, False):
            rows = _history_rows(order, at)
            ours = db.insert_rows_sql(OrderStatusChange, rows, returning=None, unnest=unnest)
            orm = db.insert_sql([OrderStatusChange(**row) for row in rows], returning=None, unnest=unnest)
            assert ours[0] == orm[0] and db._same(orm[1], ours[1])
            assert ("UNNEST" in ours[0]) is unnest
    assert any(key[2] == "values" for key in db._SHAPES), "the values' shape was kept"


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_value_of_another_type_is_prepared_by_the_fields_own_methods(order):
    at = timezone.now()
    db._SHAPES.clear()
    db.insert_rows_sql(OrderStatusChange, _history_rows(order, at)[:1])  # the shape, kept
    odd = _history_rows(order, at)[:1]
    odd[0]["order_id"] = str(order.pk)  # a str where the plan expects an int
    odd[0]["created_at"] = at.replace(tzinfo=None)  # naive: the ORM makes it aware (with a warning)
    with pytest.warns(RuntimeWarning):
        ours = db.insert_rows_sql(OrderStatusChange, odd)
    with pytest.warns(RuntimeWarning):
        orm = db.insert_sql([OrderStatusChange(**odd[0])])
    assert db._same(orm[1], ours[1])
    assert [type(p) for p in ours[1] if p == order.pk] == [int]
    assert [p.tzinfo is not None for p in ours[1] if isinstance(p, datetime)] == [True]


@pytest.mark.postgres
@pytest.mark.django_db
def test_rows_from_values_in_the_bound_batch_go_as_values_rows_and_read_back_as_written(order):
    at = timezone.now()
    with (
        CaptureQueriesContext(connection) as sent,
        transaction.atomic(),
        bound.writes_in_one_bound_statement(),
    ):
        db.db_insert_rows(OrderStatusChange, _history_rows(order, at))
    [write] = [q["sql"] for q in sent.captured_queries if q["sql"].startswith("WITH")]
    assert "UNNEST" not in write and "VALUES" in write
    written = list(OrderStatusChange.objects.filter(order=order).order_by("pk").values())
    assert [(r["from_status"], r["to_status"], r["transition"], r["created_at"]) for r in written] == [
        ("pending_payment", "paid", "mark_paid", at),
        ("paid", "fulfilled", "fulfil", at),
    ]


@pytest.mark.django_db
def test_rows_from_values_outside_a_batch_are_the_orms_bulk_create(order):
    at = timezone.now()
    with CaptureQueriesContext(connection) as sent:
        db.db_insert_rows(OrderStatusChange, _history_rows(order, at))
    assert len(sent) == 1
    assert OrderStatusChange.objects.filter(order=order).count() == 2


@pytest.mark.django_db
def test_the_default_vendor_kept_per_engine_is_the_connections():
    from django.db import DEFAULT_DB_ALIAS, connections

    db._VENDORS.clear()
    assert db.default_vendor() == connections[DEFAULT_DB_ALIAS].vendor  # looked up, then kept
    assert db.default_vendor() == connections[DEFAULT_DB_ALIAS].vendor
    assert {connections.settings[DEFAULT_DB_ALIAS]["ENGINE"]: connection.vendor} == db._VENDORS
    assert db.one_statement_writes() is (connection.vendor == "postgresql")


@pytest.mark.postgres
@pytest.mark.django_db
def test_values_the_plan_takes_are_prepared_without_looking_up_the_connection(order, monkeypatch):
    at = timezone.now()
    db._SHAPES.clear()
    db.insert_rows_sql(OrderStatusChange, _history_rows(order, at))  # the shape, kept
    expected = db.insert_sql([OrderStatusChange(**row) for row in _history_rows(order, at)])
    looked_up = []
    plain = type(db.connections).__getitem__
    monkeypatch.setattr(
        type(db.connections), "__getitem__", lambda self, alias: looked_up.append(alias) or plain(self, alias)
    )
    ours = db.insert_rows_sql(OrderStatusChange, _history_rows(order, at))
    assert ours[0] == expected[0] and db._same(expected[1], ours[1])
    assert looked_up == []  # vendor per engine, and every value taken by the plan
    odd = _history_rows(order, at)
    odd[0]["order_id"] = str(order.pk)  # not the plan's type: the field's own methods, on the connection
    db.insert_rows_sql(OrderStatusChange, odd)
    assert looked_up == ["default"]
