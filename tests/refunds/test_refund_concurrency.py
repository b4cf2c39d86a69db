"""Refund races on PostgreSQL: threads, each with its own connection."""

import threading

import pytest
from django.db import connection

from core.errors import KpayError
from courses.models import Enrollment
from payments import ledger
from payments.gateways.base import RefundState
from payments.models import GatewayEvent, JournalEntry, Payment, Refund, RefundStatusChange
from payments.services import refund_approve, refund_issue, refund_request
from tests.flows.test_concurrency import race

from .conftest import refund_event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def attempt(fn):
    """Run ``fn``; return what it returned, or the error's code."""
    try:
        return fn()
    except KpayError as exc:
        return exc.code


def test_20_concurrent_full_refunds_make_one_gateway_refund(paid, support, gateway_refunds):
    order, payment = paid
    gateway_refunds.answer = RefundState.SUCCEEDED

    results = race(20, lambda: attempt(lambda: refund_issue(actor=support, order_id=order.pk, reason="race")))

    made = [r for r in results if isinstance(r, Refund)]
    assert len(made) == 1
    assert set(results) - set(made) <= {"refund_exceeds_paid", "order_not_refundable"}
    assert len(gateway_refunds.requests) == 1
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    payment.refresh_from_db()
    assert payment.refunded_amount == 9900 and payment.refund_reserved == 0
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.REFUND).count() == 2
    assert Enrollment.objects.get().status == Enrollment.Status.REVOKED


def test_10_concurrent_partial_refunds_succeed_only_up_to_the_paid_amount(paid, support, gateway_refunds):
    order, payment = paid
    gateway_refunds.answer = RefundState.SUCCEEDED

    results = race(
        10,
        lambda: attempt(lambda: refund_issue(actor=support, order_id=order.pk, amount=1500, reason="race")),
    )

    made = [r for r in results if isinstance(r, Refund)]
    assert len(made) == 6  # 6 × 15.00 = 90.00 of 99.00; a 7th would exceed it
    assert [r for r in results if not isinstance(r, Refund)] == ["refund_exceeds_paid"] * 4
    assert len(gateway_refunds.requests) == 6
    payment.refresh_from_db()
    assert payment.refunded_amount == 9000 and payment.refund_reserved == 0
    assert sum(ledger.account_balances().values()) == 0
    assert ledger.account_balances()[ledger.gateway_clearing("sandbox")] == 900


def test_a_notification_arriving_before_the_gateway_answers_is_handled_once(
    learner, paid, support, sandbox, gateway_refunds
):
    order, payment = paid
    refund = refund_request(learner=learner, order_no=order.order_no, reason="r")
    replies = []

    def gateway_notifies_first(request):
        """The gateway sends its notification (on another connection) before answering."""
        body = refund_event(sandbox, Refund.objects.get(refund_no=request.refund_no), event_id="EV-early")

        def notify():
            try:
                replies.append(sandbox.post(body).status_code)
            finally:
                connection.close()

        thread = threading.Thread(target=notify)
        thread.start()
        thread.join()
        return RefundState.SUCCEEDED

    gateway_refunds.answer = gateway_notifies_first
    refund_approve(actor=support, refund_id=refund.pk)  # the task runs on commit (eager)

    assert replies == [204]
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert RefundStatusChange.objects.filter(refund=refund, transition="succeed").count() == 1
    assert JournalEntry.objects.filter(refund=refund).count() == 2
    assert GatewayEvent.objects.get(event_id="EV-early").outcome == GatewayEvent.Outcome.PROCESSED
    assert Payment.objects.get(pk=payment.pk).refunded_amount == 9900


def test_20_concurrent_copies_of_a_refund_notification_apply_once(
    learner, paid, support, sandbox, gateway_refunds
):
    order, payment = paid
    refund = refund_request(learner=learner, order_no=order.order_no, reason="r")
    refund_approve(actor=support, refund_id=refund.pk)
    body = refund_event(sandbox, refund, event_id="EV-refund-race")
    headers = sandbox.headers(body)

    assert race(20, lambda: sandbox.post(body, headers).status_code) == [204] * 20

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert JournalEntry.objects.filter(refund=refund).count() == 2
    assert GatewayEvent.objects.filter(event_id="EV-refund-race").count() == 1
    assert Payment.objects.get(pk=payment.pk).refunded_amount == 9900


def test_one_person_firing_refunds_at_once_completes_at_most_the_threshold_alone(
    buy, learner, support, gateway_refunds, settings
):
    """Four eyes under a race: 8 refunds of ¥200 by one user at the same moment on a
    ¥1,200 order, threshold ¥500: two go through on that signature, the rest wait."""
    from tests.factories import CourseFactory

    settings.KPAY_REFUND_APPROVAL_THRESHOLD = 50_000
    order, _payment = buy(learner, CourseFactory(price=120_000))
    gateway_refunds.answer = RefundState.SUCCEEDED

    results = race(
        8,
        lambda: attempt(lambda: refund_issue(actor=support, order_id=order.pk, amount=20_000, reason="race")),
    )

    made = [r for r in results if isinstance(r, Refund)]
    assert len(made) == 6  # 6 × 200 = 1,200: the whole order
    assert [r for r in results if not isinstance(r, Refund)] == ["refund_exceeds_paid"] * 2
    alone = Refund.objects.filter(first_approved_by=None, approved_by=support)
    assert alone.count() == 2 and sum(r.amount for r in alone) <= 50_000
    assert len(gateway_refunds.requests) == 2
    waiting = Refund.objects.filter(status=Refund.Status.REQUESTED, first_approved_by=support)
    assert waiting.count() == 4
