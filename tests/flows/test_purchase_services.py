"""The whole purchase through the services and the webhook, with the sandbox gateway."""

import pytest

from courses.models import Enrollment
from orders.models import Order
from orders.services import order_checkout
from payments import ledger
from payments.models import GatewayEvent, JournalEntry, Payment
from payments.services import payment_start


def buy(learner, course, sandbox):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    response = sandbox.pay(payment)
    return order, payment, response


def test_paid_notification_pays_delivers_and_posts_the_ledger(learner, course, sandbox):
    order, payment, response = buy(learner, course, sandbox)

    assert response.status_code == 204
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert order.paid_at is not None and order.fulfilled_at is not None
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.gateway_txn_id == f"SBX{payment.payment_no}"
    assert Enrollment.objects.get(learner=learner, course=course).status == Enrollment.Status.ACTIVE
    assert [c.transition for c in order.status_changes.all()] == ["mark_paid", "fulfil"]

    balances = ledger.account_balances()
    assert sum(balances.values()) == 0
    assert balances[ledger.gateway_clearing("sandbox")] == 9900
    assert balances[ledger.merchant_pending(course.merchant_id)] == -8910
    assert balances[ledger.PLATFORM_COMMISSION] == -990


def test_duplicate_notification_changes_nothing(learner, course, sandbox):
    _order, payment, _ = buy(learner, course, sandbox)
    body = sandbox.trade_event(payment, event_id="EV-dup")
    first = sandbox.post(body)
    second = sandbox.post(body)
    assert first.status_code == second.status_code == 204
    assert JournalEntry.objects.filter(payment=payment).count() == 2
    assert Enrollment.objects.filter(learner=learner).count() == 1


@pytest.mark.parametrize(
    "overrides",
    [{"amount": 1}, {"currency": "USD"}, {"merchant_id": "someone-else"}],
    ids=["amount", "currency", "merchant"],
)
def test_mismatched_notification_is_rejected_and_flags_the_payment(learner, course, sandbox, overrides):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")

    response = sandbox.pay(payment, **overrides)

    assert response.status_code == 400
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert payment.status == Payment.Status.PENDING and payment.flag
    assert not JournalEntry.objects.exists()
    assert not Enrollment.objects.exists()
    assert GatewayEvent.objects.get().outcome == GatewayEvent.Outcome.MISMATCH


def test_tampered_and_stale_notifications_are_rejected(learner, course, sandbox):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    body = sandbox.trade_event(payment)
    headers = sandbox.headers(body)

    tampered = sandbox.post(body.replace(b'"SUCCESS"', b'"SUCCESS" '), headers)
    stale = sandbox.post(body, sandbox.headers(body, **{"Sandbox-Timestamp": "1700000000"}))

    assert tampered.status_code == stale.status_code == 400
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert not GatewayEvent.objects.exists()
    assert not JournalEntry.objects.exists()
