"""An order's promoter is its own column (``Order.promoter_id``), written in the order's
INSERT at checkout: money, the API and ledger_check read it, never the risk record."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.attribution import referred_promoter_id
from orders.models import Order
from orders.services import order_checkout
from payments.ledger import checks as ledger_check
from payments.models import JournalEntry
from payments.services import payment_start
from promoters.models import OrderReferral
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_promoter_is_written_in_the_orders_own_insert(learner, course, promoter, referral):
    with CaptureQueriesContext(connection) as queries:
        order = order_checkout(learner=learner, course_slug=course.slug, referral=referral).order

    table = Order._meta.db_table
    statements = [q["sql"].lstrip() for q in queries.captured_queries]
    writes = [sql for sql in statements if table in sql and not sql.upper().startswith("SELECT")]
    assert len(writes) == 1 and writes[0].upper().startswith(("INSERT", "WITH"))  # no UPDATE after it
    assert "promoter_id" in writes[0]
    assert Order.objects.get(pk=order.pk).promoter_id == promoter.pk


def test_paying_a_referred_order_whose_risk_record_lost_its_inputs(
    learner, course, promoter, referral, sandbox, refund
):
    """The risk record changing shape (its inputs gone) changes nothing for the money."""
    order = order_checkout(learner=learner, course_slug=course.slug, referral=referral).order
    Order.objects.filter(pk=order.pk).update(risk_assessment={})
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    assert sandbox.pay(payment).status_code == 204
    order.refresh_from_db()

    assert OrderReferral.objects.get(order=order).commission == 990
    accrued = JournalEntry.objects.get(order=order, kind=JournalEntry.Kind.PROMOTER)
    assert accrued.credit_account == f"promoter:{promoter.pk}:pending" and accrued.amount == 990
    refund(order, 3300)
    entries = JournalEntry.objects.filter(order=order, kind=JournalEntry.Kind.PROMOTER)
    reversed_ = entries.exclude(pk=accrued.pk)
    assert [(e.debit_account, e.amount) for e in reversed_] == [(f"promoter:{promoter.pk}:pending", 330)]


def test_a_risk_record_naming_a_promoter_does_not_refer_the_order(learner, course, promoter, buy_referred):
    order, _payment = buy_referred(learner, course, None)
    Order.objects.filter(pk=order.pk).update(
        risk_assessment={**order.risk_assessment, "inputs": {"promoter_id": promoter.pk}}
    )
    order.refresh_from_db()
    assert referred_promoter_id(order) is None


def test_the_api_says_referred_from_the_column(api_client, learner, course, promoter, referral, buy_referred):
    referred, _ = buy_referred(learner, course, referral)
    Order.objects.filter(pk=referred.pk).update(risk_assessment={})
    api_client.force_authenticate(learner)

    listed = {o["order_no"]: o["referred"] for o in api_client.get("/api/v1/orders/").json()["results"]}

    assert listed == {referred.order_no: True}


def test_ledger_check_finds_an_order_and_its_referral_naming_different_promoters(
    learner, course, promoter, referral, buy_referred
):
    order, _payment = buy_referred(learner, course, referral)
    unreferred, _ = buy_referred(UserFactory(), course, None)
    assert ledger_check.run() == []

    Order.objects.filter(pk=order.pk).update(promoter_id=promoter.pk + 1000)
    Order.objects.filter(pk=unreferred.pk).update(promoter_id=promoter.pk)
    try:
        assert sorted(ledger_check.run()) == sorted(
            [
                f"referrals_match_their_orders: order {order.order_no}: referred by promoter "
                f"{promoter.pk}, the order says {promoter.pk + 1000}",
                f"referrals_match_their_orders: order {unreferred.order_no} names promoter "
                f"{promoter.pk} but has no referral",
            ]
        )
    finally:
        Order.objects.filter(pk=order.pk).update(promoter_id=promoter.pk)
        Order.objects.filter(pk=unreferred.pk).update(promoter_id=None)


def test_the_order_admin_links_the_promoter_and_filters_referred_orders(
    client, staff, learner, course, promoter, referral, buy_referred
):
    from django.urls import reverse

    from courses import roles

    referred, _ = buy_referred(learner, course, referral)
    other, _ = buy_referred(UserFactory(), course, None)
    client.force_login(staff(roles.FINANCE, "finance-fay"))

    page = client.get(reverse("admin:orders_order_change", args=[referred.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert reverse("admin:promoters_promoter_change", args=[promoter.pk]) in page.text
    listed = client.get(reverse("admin:orders_order_changelist") + "?promoter_id__isempty=0")
    assert [o.pk for o in listed.context["cl"].result_list] == [referred.pk]
    listed = client.get(reverse("admin:orders_order_changelist") + "?promoter_id__isempty=1")
    assert [o.pk for o in listed.context["cl"].result_list] == [other.pk]
