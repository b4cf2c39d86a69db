"""Refunds through the services and the webhook: request, decide, gateway, notification."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from courses.models import Enrollment
from orders.exceptions import OrderNotFound
from orders.models import Order
from orders.services import order_cancel, order_checkout
from payments import ledger
from payments.exceptions import (
    GatewayRejected,
    GatewayUnavailable,
    InvalidRefundAmount,
    OrderNotRefundable,
    RefundExceedsPaid,
    RefundNotAllowed,
    RefundReasonRequired,
    RefundStateConflict,
    RefundWindowClosed,
    SecondApproverRequired,
)
from payments.gateways.base import RefundState
from payments.models import GatewayEvent, JournalEntry, Payment, Refund
from payments.services import (
    payment_start,
    refund_approve,
    refund_deny,
    refund_issue,
    refund_process,
    refund_request,
    refund_retry,
    refunds_sync_pending,
)
from tests.factories import CourseFactory, MerchantFactory, MerchantStaffFactory, UserFactory

from .conftest import refund_event

pytestmark = pytest.mark.django_db


def balances():
    return ledger.account_balances()


def test_learner_request_approval_gateway_notification_revokes_access(
    learner, course, paid, support, sandbox, gateway_refunds, django_capture_on_commit_callbacks
):
    order, payment = paid
    refund = refund_request(learner=learner, order_no=order.order_no, reason="not what I expected")
    assert refund.status == Refund.Status.REQUESTED and refund.amount == 9900
    payment.refresh_from_db()
    assert payment.refund_reserved == 9900 and payment.refundable_amount == 0

    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(actor=support, refund_id=refund.pk, note="ok")

    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING and refund.attempts == 1
    [request] = gateway_refunds.requests
    assert request.refund_no == refund.refund_no and request.amount == 9900 and request.total == 9900
    assert request.payment_no == payment.payment_no
    assert request.notify_url == "http://testserver/payments/webhooks/sandbox/"

    with django_capture_on_commit_callbacks(execute=True):
        response = sandbox.post(refund_event(sandbox, refund, event_id="EV-refund"))
    assert response.status_code == 204

    refund.refresh_from_db()
    order.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert order.status == Order.Status.REFUNDED and order.refunded_amount == 9900
    assert payment.refunded_amount == 9900 and payment.refund_reserved == 0
    assert Enrollment.objects.get(learner=learner, course=course).status == Enrollment.Status.REVOKED
    assert [c.transition for c in refund.status_changes.all()] == ["request", "approve", "submit", "succeed"]
    assert refund.status_changes.get(transition="approve").actor == support
    assert GatewayEvent.objects.get(event_id="EV-refund").outcome == GatewayEvent.Outcome.PROCESSED
    book = balances()
    assert book[ledger.gateway_clearing("sandbox")] == 0
    assert book[ledger.merchant_pending(course.merchant_id)] == 0
    assert book[ledger.PLATFORM_COMMISSION] == 0
    assert [m.to for m in mail.outbox] == [[learner.email]]
    assert refund.refund_no in mail.outbox[0].body

    # The same notification again, or another copy of it: handled once.
    with django_capture_on_commit_callbacks(execute=True):
        assert sandbox.post(refund_event(sandbox, refund, event_id="EV-refund")).status_code == 204
        assert sandbox.post(refund_event(sandbox, refund, event_id="EV-again")).status_code == 204
    assert GatewayEvent.objects.get(event_id="EV-again").outcome == GatewayEvent.Outcome.DUPLICATE
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.REFUND).count() == 2
    assert len(mail.outbox) == 1


def test_partial_refunds_keep_access_and_reverse_commission_exactly(
    learner, sandbox, buy, support, gateway_refunds, django_capture_on_commit_callbacks
):
    merchant = MerchantFactory(commission_rate="0.1000")
    course = CourseFactory(merchant=merchant, price=9999)
    order, _payment = buy(learner, course)
    assert balances()[ledger.PLATFORM_COMMISSION] == -1000  # round_half_up(999.9)
    gateway_refunds.answer = RefundState.SUCCEEDED

    commission_parts = []
    for expected_status in (
        Order.Status.PARTIALLY_REFUNDED,
        Order.Status.PARTIALLY_REFUNDED,
        Order.Status.REFUNDED,
    ):
        with django_capture_on_commit_callbacks(execute=True):
            refund = refund_issue(actor=support, order_id=order.pk, amount=3333, reason="partial")
        refund.refresh_from_db()
        assert refund.status == Refund.Status.SUCCEEDED
        order.refresh_from_db()
        assert order.status == expected_status
        access = Enrollment.objects.get(learner=learner, course=course).status
        assert access == (
            Enrollment.Status.REVOKED if expected_status == "refunded" else Enrollment.Status.ACTIVE
        )
        commission_parts.append(
            JournalEntry.objects.get(refund=refund, debit_account=ledger.PLATFORM_COMMISSION).amount
        )

    assert commission_parts == [333, 334, 333]
    book = balances()
    assert book[ledger.PLATFORM_COMMISSION] == 0
    assert book[ledger.merchant_pending(merchant.pk)] == 0
    assert book[ledger.gateway_clearing("sandbox")] == 0
    with pytest.raises((RefundExceedsPaid, OrderNotRefundable)):
        refund_issue(actor=support, order_id=order.pk, amount=1, reason="one more fen")


@given(
    amount=st.integers(1, 10**7),
    rate=st.integers(0, 10000),
    cuts=st.lists(st.integers(1, 10**7), max_size=12),
)
def test_refund_split_never_reverses_more_than_posted_and_a_full_refund_reverses_exactly(amount, rate, cuts):
    commission = (2 * amount * rate + 10000) // 20000  # round_half_up(amount × rate / 10000)
    refunded, commission_back, merchant_back = 0, 0, 0
    parts = []
    for cut in cuts:
        if refunded + cut >= amount:
            break
        parts.append(cut)
        refunded += cut
    parts.append(amount - refunded)
    refunded = 0
    for part in parts:
        merchant_part, commission_part = ledger.refund_split(
            commission=commission, amount=amount, refunded_before=refunded, refund=part
        )
        assert merchant_part >= 0 and commission_part >= 0 and merchant_part + commission_part == part
        refunded += part
        commission_back += commission_part
        merchant_back += merchant_part
        assert commission_back <= commission and merchant_back <= amount - commission
    assert commission_back == commission and merchant_back == amount - commission


def test_gateway_down_leaves_the_refund_processing_then_the_query_settles_it(
    learner, paid, support, gateway_refunds, django_capture_on_commit_callbacks
):
    order, _payment = paid
    gateway_refunds.answer = GatewayUnavailable()
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_issue(actor=support, order_id=order.pk, reason="duplicate purchase")
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED

    assert refunds_sync_pending() == 0  # too early: the notification may still come
    gateway_refunds.query_answer = RefundState.SUCCEEDED
    assert refunds_sync_pending(now=timezone.now() + timedelta(minutes=5)) == 1

    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.gateway_refund_id == f"RF{refund.refund_no}"
    assert order.status == Order.Status.REFUNDED


def test_a_refund_the_gateway_never_received_is_sent_again_under_the_same_number(
    paid, support, gateway_refunds, django_capture_on_commit_callbacks
):
    order, _payment = paid
    gateway_refunds.answer = GatewayUnavailable()
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_issue(actor=support, order_id=order.pk, reason="r")
    gateway_refunds.query_answer = GatewayRejected("no such refund", gateway_code="RESOURCE_NOT_EXISTS")
    gateway_refunds.answer = RefundState.SUCCEEDED

    refunds_sync_pending(now=timezone.now() + timedelta(minutes=5))

    assert [r.refund_no for r in gateway_refunds.requests] == [refund.refund_no] * 2
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.attempts == 1


def test_a_retried_task_never_refunds_twice(
    paid, support, gateway_refunds, django_capture_on_commit_callbacks
):
    order, _payment = paid
    gateway_refunds.answer = RefundState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_issue(actor=support, order_id=order.pk, reason="r")
    refund_process(refund_id=refund.pk)
    refund_process(refund_id=refund.pk)
    assert len(gateway_refunds.requests) == 1
    assert JournalEntry.objects.filter(refund=refund).count() == 2


def test_a_refused_refund_fails_with_the_gateways_message_and_can_be_retried(
    paid, support, gateway_refunds, django_capture_on_commit_callbacks
):
    order, payment = paid
    gateway_refunds.answer = GatewayRejected("not enough balance", gateway_code="NOT_ENOUGH")
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_issue(actor=support, order_id=order.pk, amount=5000, reason="r")
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert refund.failure_message == "NOT_ENOUGH: not enough balance"
    assert payment.refund_reserved == 0  # released

    gateway_refunds.answer = RefundState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        refund_retry(actor=support, refund_id=refund.pk, note="balance topped up")
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.attempts == 2
    assert order.status == Order.Status.PARTIALLY_REFUNDED and order.refunded_amount == 5000
    with pytest.raises(RefundStateConflict):
        refund_retry(actor=support, refund_id=refund.pk)


def test_denial_releases_the_amount_and_tells_the_learner(
    learner, paid, support, gateway_refunds, django_capture_on_commit_callbacks
):
    order, payment = paid
    refund = refund_request(learner=learner, order_no=order.order_no, amount=2000, reason="meh")
    with pytest.raises(RefundReasonRequired):
        refund_deny(actor=support, refund_id=refund.pk, note=" ")
    with django_capture_on_commit_callbacks(execute=True):
        refund_deny(actor=support, refund_id=refund.pk, note="you watched every lesson")
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == Refund.Status.DENIED and refund.decided_by == support
    assert payment.refund_reserved == 0 and payment.refundable_amount == 9900
    assert "you watched every lesson" in mail.outbox[0].body
    assert not gateway_refunds.requests
    with pytest.raises(RefundStateConflict):
        refund_approve(actor=support, refund_id=refund.pk)


# -- four eyes -------------------------------------------------------------------------
def test_above_the_threshold_two_different_staff_must_approve(
    learner, paid, support, support2, settings, gateway_refunds, django_capture_on_commit_callbacks
):
    settings.KPAY_REFUND_APPROVAL_THRESHOLD = 5000
    order, _payment = paid
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_issue(actor=support, order_id=order.pk, reason="big one")
    refund.refresh_from_db()
    assert refund.status == Refund.Status.REQUESTED and refund.first_approved_by == support
    assert not gateway_refunds.requests

    with pytest.raises(SecondApproverRequired):
        refund_approve(actor=support, refund_id=refund.pk)
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(actor=support2, refund_id=refund.pk, note="checked")
    refund.refresh_from_db()
    assert refund.approved_by == support2 and refund.status == Refund.Status.PROCESSING
    assert len(gateway_refunds.requests) == 1


def test_a_learner_request_above_the_threshold_needs_two_approvals(
    learner, paid, support, support2, settings, gateway_refunds, django_capture_on_commit_callbacks
):
    settings.KPAY_REFUND_APPROVAL_THRESHOLD = 5000
    order, _ = paid
    refund = refund_request(learner=learner, order_no=order.order_no, reason="r")
    refund_approve(actor=support, refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.REQUESTED and refund.first_approved_by == support
    with pytest.raises(SecondApproverRequired):
        refund_approve(actor=support, refund_id=refund.pk)
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(actor=support2, refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING
    transitions = [(c.transition, c.actor) for c in refund.status_changes.all()]
    assert transitions[:3] == [("request", learner), ("approve_first", support), ("approve", support2)]


def test_the_database_refuses_the_same_approver_twice(paid, support, learner):
    order, _ = paid
    refund = refund_request(learner=learner, order_no=order.order_no, reason="r")
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.filter(pk=refund.pk).update(first_approved_by=support, approved_by=support)


# -- bad input: a clear error, nothing changed -----------------------------------------
def assert_nothing_changed(payment=None):
    assert not Refund.objects.exists()
    if payment is not None:
        payment.refresh_from_db()
        assert payment.refund_reserved == 0 and payment.refunded_amount == 0


def test_an_unpaid_or_closed_order_cannot_be_refunded(learner, course, support):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    with pytest.raises(OrderNotRefundable):
        refund_request(learner=learner, order_no=order.order_no, reason="r")
    with pytest.raises(OrderNotRefundable):
        refund_issue(actor=support, order_id=order.pk, reason="r")
    order_cancel(learner=learner, order_no=order.order_no)
    with pytest.raises(OrderNotRefundable):
        refund_issue(actor=support, order_id=order.pk, reason="r")
    assert_nothing_changed()


def test_someone_elses_order_is_not_found(paid):
    order, payment = paid
    with pytest.raises(OrderNotFound):
        refund_request(learner=UserFactory(), order_no=order.order_no, reason="r")
    assert_nothing_changed(payment)


@pytest.mark.parametrize("amount", [0, -100, 9901, 10**12])
def test_zero_negative_or_too_large_amounts_are_refused(learner, paid, support, amount):
    order, payment = paid
    with pytest.raises((InvalidRefundAmount, RefundExceedsPaid)) as learner_error:
        refund_request(learner=learner, order_no=order.order_no, amount=amount, reason="r")
    with pytest.raises((InvalidRefundAmount, RefundExceedsPaid)):
        refund_issue(actor=support, order_id=order.pk, amount=amount, reason="r")
    assert learner_error.value.message
    assert_nothing_changed(payment)


def test_a_second_full_refund_is_refused(learner, paid, support):
    order, payment = paid
    refund_request(learner=learner, order_no=order.order_no, reason="first")
    with pytest.raises(RefundExceedsPaid):
        refund_request(learner=learner, order_no=order.order_no, reason="second")
    with pytest.raises(RefundExceedsPaid):
        refund_issue(actor=support, order_id=order.pk, reason="second")
    assert Refund.objects.count() == 1
    payment.refresh_from_db()
    assert payment.refund_reserved == 9900


def test_a_reason_is_required(learner, paid, support):
    order, payment = paid
    with pytest.raises(RefundReasonRequired):
        refund_request(learner=learner, order_no=order.order_no, reason="  ")
    with pytest.raises(RefundReasonRequired):
        refund_issue(actor=support, order_id=order.pk, reason="")
    assert_nothing_changed(payment)


def test_the_refund_window_closes_for_learners_but_not_for_support(
    learner, paid, support, settings, gateway_refunds
):
    order, payment = paid
    Order.objects.filter(pk=order.pk).update(paid_at=timezone.now() - settings.KPAY_REFUND_WINDOW)
    with pytest.raises(RefundWindowClosed):
        refund_request(learner=learner, order_no=order.order_no, reason="late")
    assert_nothing_changed(payment)
    assert refund_issue(actor=support, order_id=order.pk, reason="goodwill").status == Refund.Status.APPROVED


def test_completed_orders_are_refunded_by_support_only(learner, paid, support):
    order, _payment = paid
    Order.objects.filter(pk=order.pk).update(status=Order.Status.COMPLETED)
    with pytest.raises(OrderNotRefundable):
        refund_request(learner=learner, order_no=order.order_no, reason="r")
    assert refund_issue(actor=support, order_id=order.pk, amount=100, reason="r").status == "approved"


def test_the_database_refuses_an_over_refund_whatever_the_code_says(paid):
    _order, payment = paid
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(refunded_amount=9000, refund_reserved=901)
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=payment.order_id).update(refunded_amount=9901)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(refund_reserved=-1)


# -- who may refund ----------------------------------------------------------------------
def test_learners_finance_and_merchants_cannot_refund_support_can(
    learner, course, paid, staff, support, gateway_refunds
):
    from courses import roles

    order, payment = paid
    merchant_staff = MerchantStaffFactory(merchant=course.merchant)
    for user in (learner, staff(roles.FINANCE), merchant_staff, UserFactory(is_staff=True)):
        with pytest.raises(RefundNotAllowed):
            refund_issue(actor=user, order_id=order.pk, reason="r")
    assert_nothing_changed(payment)
    refund = refund_request(learner=learner, order_no=order.order_no, amount=100, reason="r")
    for user in (learner, staff(roles.FINANCE), merchant_staff):
        with pytest.raises(RefundNotAllowed):
            refund_approve(actor=user, refund_id=refund.pk)
    refund_approve(actor=support, refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.APPROVED


def test_a_merchant_granted_the_permission_refunds_its_own_orders_only(
    learner, course, paid, buy, gateway_refunds
):
    from django.contrib.auth.models import Permission

    order, _ = paid
    theirs, _ = buy(UserFactory(), CourseFactory())
    merchant_staff = MerchantStaffFactory(merchant=course.merchant)
    merchant_staff.user_permissions.add(Permission.objects.get(codename="issue_refund"))
    merchant_staff = type(merchant_staff).objects.get(pk=merchant_staff.pk)  # fresh permission cache

    assert refund_issue(actor=merchant_staff, order_id=order.pk, amount=100, reason="r").amount == 100
    with pytest.raises(RefundNotAllowed):
        refund_issue(actor=merchant_staff, order_id=theirs.pk, amount=100, reason="r")


def test_mismatched_refund_notification_is_rejected_and_changes_nothing(learner, paid, support, sandbox):
    order, payment = paid
    refund = refund_request(learner=learner, order_no=order.order_no, reason="r")
    refund_approve(actor=support, refund_id=refund.pk)
    response = sandbox.post(refund_event(sandbox, refund, amount=1))
    assert response.status_code == 400
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == Refund.Status.APPROVED and payment.flag
    assert GatewayEvent.objects.get(event_type="REFUND.SUCCESS").outcome == GatewayEvent.Outcome.MISMATCH


def test_a_failed_refund_notification_releases_the_amount(
    learner, paid, support, sandbox, gateway_refunds, django_capture_on_commit_callbacks
):
    order, payment = paid
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_issue(actor=support, order_id=order.pk, reason="r")
    assert sandbox.post(refund_event(sandbox, refund, status="ABNORMAL")).status_code == 204
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == Refund.Status.FAILED and payment.refund_reserved == 0
    assert Enrollment.objects.get().status == Enrollment.Status.ACTIVE


def test_a_cumulative_refund_amount_in_a_notification_is_accepted(
    learner, paid, support, sandbox, gateway_refunds, django_capture_on_commit_callbacks
):
    """Alipay notifies the trade's cumulative refunded amount (refund_fee), not the refund's."""
    order, payment = paid
    gateway_refunds.answer = RefundState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        refund_issue(actor=support, order_id=order.pk, amount=1000, reason="first")
    gateway_refunds.answer = RefundState.PROCESSING
    with django_capture_on_commit_callbacks(execute=True):
        second = refund_issue(actor=support, order_id=order.pk, amount=2000, reason="second")
    assert sandbox.post(refund_event(sandbox, second, amount=3000)).status_code == 204
    second.refresh_from_db()
    assert second.status == Refund.Status.SUCCEEDED
    payment.refresh_from_db()
    assert payment.refunded_amount == 3000
    # More than was ever refunded or in flight is a mismatch.
    third = refund_issue(actor=support, order_id=order.pk, amount=100, reason="third")
    assert sandbox.post(refund_event(sandbox, third, amount=5000)).status_code == 400


def test_the_periodic_task_settles_refunds_without_news(paid, support, gateway_refunds, monkeypatch):
    from payments.services import refund_gateway
    from payments.tasks import sync_refunds

    order, _ = paid
    refund = refund_issue(actor=support, order_id=order.pk, reason="task lost")  # on_commit never ran
    assert refund.status == Refund.Status.APPROVED and not gateway_refunds.requests
    monkeypatch.setattr(refund_gateway, "SYNC_AFTER", timedelta(0))
    gateway_refunds.answer = RefundState.SUCCEEDED

    sync_refunds.delay()

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and len(gateway_refunds.requests) == 1


def test_a_refund_notification_without_our_refund_number_is_matched_by_amount(
    paid, support, gateway_refunds, django_capture_on_commit_callbacks
):
    """Channel-agnostic: any backend's REFUND notification goes through the same path;
    one that does not echo the refund number finds the refund in flight by amount."""
    from payments.gateways import get_gateway
    from payments.gateways.base import Notification, NotificationKind
    from payments.services import payment_notification_handle

    order, payment = paid
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_issue(actor=support, order_id=order.pk, amount=4000, reason="r")
    gateway = get_gateway("sandbox")
    notification = Notification(
        event_id="EV-no-number",
        event_type="TRADE_SUCCESS",
        kind=NotificationKind.REFUND,
        trade_no=payment.payment_no,
        state=RefundState.SUCCEEDED,
        amount=4000,
        currency="CNY",
        merchant_ids=gateway.merchant_ids,
        payload={"refund_fee": "40.00"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        outcome = payment_notification_handle(gateway=gateway, notification=notification)
        again = payment_notification_handle(gateway=gateway, notification=notification)
    assert outcome == GatewayEvent.Outcome.PROCESSED
    assert again == GatewayEvent.Outcome.DUPLICATE
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert GatewayEvent.objects.filter(event_id="EV-no-number").count() == 1
    payment.refresh_from_db()
    assert not payment.flag


def test_a_gateway_reporting_another_refund_amount_is_flagged_not_applied(
    learner, paid, support, gateway_refunds, django_capture_on_commit_callbacks
):
    from payments.gateways.base import RefundState, RefundStatus
    from payments.models import JournalEntry
    from payments.services import refund_sync

    order, payment = paid
    refund = refund_request(learner=learner, order_no=order.order_no, reason="not what I expected")
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(actor=support, refund_id=refund.pk, note="ok")
    gateway_refunds.query_refund = lambda gateway, refund_no, *, payment_no: RefundStatus(
        refund_no=refund_no, state=RefundState.SUCCEEDED, amount=100
    )

    refund_sync(refund=Refund.objects.get(pk=refund.pk))

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING
    assert "gateway says 100" in payment.flag and payment.refunded_amount == 0
    assert not JournalEntry.objects.filter(kind=JournalEntry.Kind.REFUND).exists()
