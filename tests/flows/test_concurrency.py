"""Real concurrency on PostgreSQL: threads, each with its own connection, racing."""

import threading

import pytest

from courses.models import Enrollment
from orders.models import Order
from orders.services import order_checkout
from payments import ledger
from payments.models import GatewayEvent, JournalEntry, Payment, PaymentStatusChange
from payments.services import payment_start
from tests.concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_20_concurrent_copies_of_one_notification_apply_once(learner, course, sandbox):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    body = sandbox.trade_event(payment, event_id="EV-race")
    headers = sandbox.headers(body)

    statuses = race(20, lambda: sandbox.post(body, headers).status_code)

    assert statuses == [204] * 20
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
    assert PaymentStatusChange.objects.filter(payment=payment, to_status="succeeded").count() == 1
    assert Enrollment.objects.filter(learner=learner, course=course).count() == 1
    assert JournalEntry.objects.filter(payment=payment).count() == 2
    assert GatewayEvent.objects.filter(event_id="EV-race").count() == 1
    assert sum(ledger.account_balances().values()) == 0


def test_20_concurrent_distinct_events_for_one_payment_apply_once(learner, course, sandbox):
    """The gateway may send the same fact under different event ids (retries, re-sends)."""
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    bodies = [sandbox.trade_event(payment, event_id=f"EV-{i}") for i in range(20)]
    signed = [(body, sandbox.headers(body)) for body in bodies]
    counter = iter(range(20))
    lock = threading.Lock()

    def send():
        with lock:
            body, headers = signed[next(counter)]
        return sandbox.post(body, headers).status_code

    assert race(20, send) == [204] * 20
    assert JournalEntry.objects.filter(payment=payment).count() == 2
    outcomes = sorted(GatewayEvent.objects.values_list("outcome", flat=True))
    assert outcomes.count(GatewayEvent.Outcome.PROCESSED) == 1
    assert outcomes.count(GatewayEvent.Outcome.DUPLICATE) == 19


def test_two_payments_succeeding_for_one_order_keep_the_second_as_unapplied(
    learner, course, sandbox, settings
):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    first = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    Payment.objects.filter(pk=first.pk).update(expires_at=first.created_at)  # make room for a new attempt
    second = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    assert first.pk != second.pk
    bodies = [sandbox.trade_event(p) for p in (first, second)]
    signed = [(body, sandbox.headers(body)) for body in bodies]
    picks = iter(signed)
    lock = threading.Lock()

    def send():
        with lock:
            body, headers = next(picks)
        return sandbox.post(body, headers).status_code

    assert race(2, send) == [204, 204]
    statuses = sorted(Payment.objects.filter(order=order).values_list("status", flat=True))
    assert statuses == [Payment.Status.SUCCEEDED, Payment.Status.UNAPPLIED]
    unapplied = Payment.objects.get(order=order, status=Payment.Status.UNAPPLIED)
    assert "refund" in unapplied.flag
    balances = ledger.account_balances()
    assert balances[ledger.UNAPPLIED_RECEIPTS] == -course.price
    assert sum(balances.values()) == 0


def test_concurrent_checkouts_of_one_course_make_one_order(learner, course):
    results = race(10, lambda: order_checkout(learner=learner, course_slug=course.slug))

    assert len({r.order.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert Order.objects.filter(learner=learner).count() == 1
