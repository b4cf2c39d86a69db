"""Every write to refunds: learners ask, staff approve, deny or issue, the gateway pays
out, its answers and notifications settle.

Over-refunding is refused in three layers: every change to what is refunded or in
flight of a payment happens under the payment's (and its order's) row lock; the
service checks the amount against ``Payment.refundable_amount`` there; and the
database refuses ``refunded + in flight > paid`` (``payment_refunds_within_amount``)
and ``order.refunded_amount > order.total`` whatever the Python says.

Money is reserved on the payment (``refund_reserved``) as soon as a refund is asked
for, and released when it is denied or fails, so two requests can never together
promise more than was paid. Gateway calls happen outside transactions, after commit,
in a Celery task, with the refund number as the gateway's idempotency key: a retried
task or a re-sent request never refunds twice.
"""

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.db import statement_guard
from core.transitions import apply_transition
from courses.roles import is_platform_staff, user_merchant
from orders.exceptions import OrderNotFound
from orders.models import Order
from orders.numbers import new_public_number
from orders.selectors import order_get_for_learner
from orders.services import order_record_refund

from . import ledger, locks, selectors
from .exceptions import (
    GatewayRejected,
    GatewayUnavailable,
    InvalidRefundAmount,
    InvalidResponse,
    OrderNotRefundable,
    PaymentNotFound,
    PaymentNotUnapplied,
    RefundExceedsPaid,
    RefundNotAllowed,
    RefundNotFound,
    RefundReasonRequired,
    RefundStateConflict,
    RefundWindowClosed,
    SecondApproverRequired,
    UnappliedAlreadyReturned,
    UnknownTrade,
)
from .flags import merchant_ids_mismatch, payment_flag
from .gateways import get_gateway
from .gateways.base import Gateway, Notification, RefundRequest, RefundState, RefundStatus
from .models import GatewayEvent, Payment, Refund, RefundStatusChange

logger = logging.getLogger(__name__)

SYNC_AFTER = timedelta(minutes=2)
SYNC_BATCH = 200


# -- who may do what ----------------------------------------------------------------
def staff_may(user, permission: str, order: Order | None = None) -> bool:
    """Whether ``user`` holds ``payments.<permission>`` and, being merchant staff, the
    order is their merchant's. Platform staff (support, finance, superusers) may act
    on every merchant's orders if they hold the permission."""
    if not (getattr(user, "is_authenticated", False) and user.is_active and user.is_staff):
        return False
    if not user.has_perm(f"payments.{permission}"):
        return False
    if is_platform_staff(user):
        return True
    merchant = user_merchant(user)
    return merchant is not None and (order is None or merchant.pk == order.merchant_id)


def _require_staff(user, permission: str, order: Order) -> None:
    if not staff_may(user, permission, order):
        raise RefundNotAllowed()


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise RefundReasonRequired()
    return reason[:255]


# -- asking for and issuing refunds -------------------------------------------------
def refund_request(*, learner, order_no: str, reason: str, amount: int | None = None) -> Refund:
    """A learner asks for (part of) the money of their paid order back, inside the
    refund window. Without an amount, everything left is asked for. Support decides."""
    reason = _clean_reason(reason)
    order = order_get_for_learner(learner=learner, order_no=order_no)
    if order is None:
        raise OrderNotFound()
    return _create(
        order_id=order.pk, actor=learner, origin=Refund.Origin.LEARNER, amount=amount, reason=reason
    )


def refund_issue(*, actor, order_id: int, reason: str, amount: int | None = None) -> Refund:
    """Staff refund an order directly, in full (no amount) or in part, whatever its
    status as long as it was paid (completed orders included: the merchant is charged
    back). Up to the approval threshold the refund goes to the gateway at once; above
    it the issuer counts as the first approver and a second staff member must approve."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        raise OrderNotFound()
    _require_staff(actor, "issue_refund", order)
    reason = _clean_reason(reason)
    return _create(order_id=order.pk, actor=actor, origin=Refund.Origin.STAFF, amount=amount, reason=reason)


def refund_issue_for_risk(*, order_id: int, reason: str) -> Refund:
    """Give a payment risk control blocked back to its payer, in full, at once: money
    that must be returned, to whom it came from, waits for nobody (no four eyes)."""
    return _create(order_id=order_id, actor=None, origin=Refund.Origin.RISK, amount=None, reason=reason)


def _create(*, order_id: int, actor, origin: str, amount: int | None, reason: str) -> Refund:
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0):
        raise InvalidRefundAmount()
    now = timezone.now()
    with transaction.atomic():
        payment = locks.payment_lock_for_refund(order_id=order_id)
        if payment is None:
            raise OrderNotRefundable()
        order = payment.order
        learner = origin == Refund.Origin.LEARNER
        allowed = Order.LEARNER_REFUNDABLE_STATUSES if learner else Order.REFUNDABLE_STATUSES
        if order.status not in allowed:
            raise OrderNotRefundable()
        if learner and not order.learner_may_request_refund(now=now):
            raise RefundWindowClosed()
        left = payment.refundable_amount
        amount = left if amount is None else amount
        if amount <= 0 or amount > left:
            raise RefundExceedsPaid()
        refund, opened = _open(
            payment,
            actor=actor,
            origin=origin,
            amount=amount,
            reason=reason,
            at=now,
            transition="request" if learner else "issue",
        )
        changes = [opened]
        if origin == Refund.Origin.RISK:
            changes.append(_approve_for_risk(refund, note=reason, at=now))
        elif not learner:
            changes.append(_approve_step(refund, actor=actor, note=reason, at=now))
        RefundStatusChange.objects.bulk_create(changes)
    return refund


def _open(
    payment: Payment, *, actor, origin: str, amount: int, reason: str, at, transition: str
) -> tuple[Refund, RefundStatusChange]:
    """Reserve ``amount`` on a locked payment and open a (requested) refund for it;
    returns the refund and its first status change (unsaved)."""
    payment.refund_reserved += amount
    try:
        with statement_guard():
            payment.save(update_fields=["refund_reserved"])
    except IntegrityError as exc:  # the database's word on over-refunding
        raise RefundExceedsPaid() from exc
    refund = Refund.objects.create(
        refund_no=new_public_number("R"),
        payment=payment,
        order=payment.order,
        amount=amount,
        currency=payment.currency,
        reason=reason,
        origin=origin,
        requested_by=actor,
        created_at=at,
    )
    opened = RefundStatusChange(
        refund=refund,
        from_status="",
        to_status=refund.status,
        transition=transition,
        actor=actor,
        reason=reason,
        created_at=at,
    )
    return refund, opened


# -- returning money no order took ----------------------------------------------------
def staff_may_return_unapplied(user) -> bool:
    """Whether ``user`` may return unapplied payments: platform staff who issue refunds.
    The money is the platform's to give back (no merchant ever received it), so merchant
    staff may not, whatever permissions they hold."""
    return staff_may(user, "issue_refund") and is_platform_staff(user)


def unapplied_returnable(payment: Payment) -> bool:
    """An unapplied payment nothing of which is refunded or on its way back."""
    return payment.status == Payment.Status.UNAPPLIED and payment.refundable_amount == payment.amount


def refund_unapplied(*, actor, payment_id: int, reason: str) -> Refund:
    """Give an unapplied payment (its order was paid by another payment, or closed) back
    to its payer, in full, through its gateway.

    It is an ordinary refund of that payment (same life cycle, gateway call after
    commit, refund number as idempotency key, four eyes above the approval threshold
    as for :func:`refund_issue`), but on success it is booked against the unapplied
    receipts, never on the order (see :func:`_settle`). The amount is reserved on the
    payment, so only one return can be under way or succeed."""
    if not staff_may_return_unapplied(actor):
        raise RefundNotAllowed()
    reason = _clean_reason(reason)
    now = timezone.now()
    with transaction.atomic():
        try:
            payment = locks.payment_lock(pk=payment_id)
        except Payment.DoesNotExist:
            raise PaymentNotFound() from None
        if payment.status != Payment.Status.UNAPPLIED:
            raise PaymentNotUnapplied()
        if not unapplied_returnable(payment):
            raise UnappliedAlreadyReturned()
        refund, opened = _open(
            payment,
            actor=actor,
            origin=Refund.Origin.STAFF,
            amount=payment.amount,
            reason=reason,
            at=now,
            transition="issue",
        )
        RefundStatusChange.objects.bulk_create(
            [opened, _approve_step(refund, actor=actor, note=reason, at=now)]
        )
    return refund


def _approve_step(refund: Refund, *, actor, note: str, at) -> RefundStatusChange:
    """One approval of a locked, requested refund: the first of two above the threshold
    (four eyes), else the approval that sends it to the gateway after commit."""
    needs_two = refund.amount > settings.KPAY_REFUND_APPROVAL_THRESHOLD
    if needs_two and refund.first_approved_by_id is None:
        change = apply_transition(
            refund,
            "approve_first",
            history_model=RefundStatusChange,
            actor=actor,
            reason=note,
            at=at,
            by=actor,
        )
        refund.save(update_fields=["first_approved_by"])
        return change
    if needs_two and refund.first_approved_by_id == actor.pk:
        raise SecondApproverRequired()
    change = apply_transition(
        refund,
        "approve",
        history_model=RefundStatusChange,
        actor=actor,
        reason=note,
        at=at,
        by=actor,
        note=note,
    )
    if change is None:
        raise RefundStateConflict()
    refund.save(update_fields=["status", "approved_by", "decided_by", "decided_at", "decision_note"])
    _process_on_commit(refund)
    return change


def _approve_for_risk(refund: Refund, *, note: str, at) -> RefundStatusChange:
    change = apply_transition(
        refund, "approve", history_model=RefundStatusChange, reason=note, at=at, by=None, note=note
    )
    refund.save(update_fields=["status", "approved_by", "decided_by", "decided_at", "decision_note"])
    _process_on_commit(refund)
    return change


def _process_on_commit(refund: Refund) -> None:
    from .tasks import process_refund

    refund_id = refund.pk
    transaction.on_commit(lambda: process_refund.delay(refund_id))


# -- staff decisions -----------------------------------------------------------------
def _locked(refund_id: int) -> tuple[Payment, Refund]:
    """Lock a refund's payment and order, then the refund (always in this order)."""
    refund = selectors.refund_get(pk=refund_id)
    if refund is None:
        raise RefundNotFound()
    payment = locks.payment_lock(pk=refund.payment_id)
    return payment, locks.refund_lock(pk=refund_id)


def _staff_refund(refund_id: int, actor, permission: str) -> Refund:
    refund = selectors.refund_get(pk=refund_id)
    if refund is None:
        raise RefundNotFound()
    _require_staff(actor, permission, refund.order)
    return refund


def refund_approve(*, actor, refund_id: int, note: str = "") -> Refund:
    """Approve a requested refund. Above the threshold, the first approval is recorded
    and the refund waits for a second, different staff member."""
    _staff_refund(refund_id, actor, "approve_refund")
    now = timezone.now()
    with transaction.atomic():
        _payment, refund = _locked(refund_id)
        if refund.status != Refund.Status.REQUESTED:
            raise RefundStateConflict()
        _approve_step(refund, actor=actor, note=(note or "").strip()[:255], at=now).save()
    return refund


def refund_deny(*, actor, refund_id: int, note: str) -> Refund:
    """Refuse a requested refund, saying why; its amount is free to refund again."""
    _staff_refund(refund_id, actor, "approve_refund")
    note = _clean_reason(note)
    now = timezone.now()
    with transaction.atomic():
        payment, refund = _locked(refund_id)
        change = apply_transition(
            refund,
            "deny",
            history_model=RefundStatusChange,
            actor=actor,
            reason=note,
            at=now,
            by=actor,
            note=note,
        )
        if change is None:
            raise RefundStateConflict()
        payment.refund_reserved -= refund.amount
        payment.save(update_fields=["refund_reserved"])
        refund.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        change.save()
        _tell_learner_on_commit(refund, payment.order)
    return refund


def refund_retry(*, actor, refund_id: int, note: str = "") -> Refund:
    """Send a failed refund to the gateway again (same refund number), if what it
    would refund is still available."""
    _staff_refund(refund_id, actor, "approve_refund")
    now = timezone.now()
    with transaction.atomic():
        payment, refund = _locked(refund_id)
        if refund.status != Refund.Status.FAILED:
            raise RefundStateConflict()
        if refund.amount > payment.refundable_amount:
            raise RefundExceedsPaid()
        change = apply_transition(
            refund,
            "submit",
            history_model=RefundStatusChange,
            actor=actor,
            reason=(note or "retried by staff")[:255],
            at=now,
        )
        payment.refund_reserved += refund.amount
        payment.save(update_fields=["refund_reserved"])
        refund.save(update_fields=["status", "submitted_at", "failure_message", "attempts"])
        change.save()
        _process_on_commit(refund)
    return refund


# -- the gateway ----------------------------------------------------------------------
def _notify_url(gateway: Gateway) -> str:
    return f"{settings.KPAY_PUBLIC_URL}{reverse('payments:webhook', args=[gateway.alias])}"


def refund_process(*, refund_id: int) -> Refund:
    """Send an approved (or processing) refund to its gateway and apply the answer.

    Safe to run again: the refund number is the gateway's idempotency key. A timeout
    or 5xx leaves the refund processing, for the notification or the periodic query to
    settle; a definite refusal fails it (staff may retry).
    """
    now = timezone.now()
    with transaction.atomic():
        refund = locks.refund_lock(pk=refund_id)
        if refund.status == Refund.Status.APPROVED:
            change = apply_transition(
                refund, "submit", history_model=RefundStatusChange, reason="sent to the gateway", at=now
            )
            refund.save(update_fields=["status", "submitted_at", "failure_message", "attempts"])
            change.save()
        elif refund.status != Refund.Status.PROCESSING:
            return refund
    payment = refund.payment
    gateway = get_gateway(payment.gateway)
    try:
        status = gateway.refund(
            RefundRequest(
                refund_no=refund.refund_no,
                payment_no=payment.payment_no,
                gateway_txn_id=payment.gateway_txn_id or "",
                amount=refund.amount,
                total=payment.amount,
                currency=refund.currency,
                reason=refund.reason,
                notify_url=_notify_url(gateway),
            )
        )
    except (GatewayUnavailable, InvalidResponse):
        logger.info("refund %s: gateway did not answer; left processing", refund.refund_no)
        return refund
    except GatewayRejected as exc:
        message = f"{exc.gateway_code}: {exc.message}" if exc.gateway_code else str(exc.message)
        status = RefundStatus(refund_no=refund.refund_no, state=RefundState.FAILED, message=message)
    return _apply_status(refund_id, status, reason="gateway answer")


def _apply_status(refund_id: int, status: RefundStatus, *, reason: str) -> Refund:
    """Apply what the gateway said of a refund (answer or query), once, under the locks."""
    now = timezone.now()
    with transaction.atomic():
        payment, refund = _locked(refund_id)
        if status.amount is not None and status.amount != refund.amount:
            payment_flag(
                payment, f"refund {refund.refund_no}: gateway says {status.amount}, we asked {refund.amount}"
            )
            return refund
        if status.state == RefundState.SUCCEEDED:
            _settle(refund, payment, gateway_refund_id=status.gateway_refund_id, reason=reason, at=now)
        elif status.state == RefundState.FAILED:
            _fail(refund, payment, message=status.message or "refused by the gateway", reason=reason, at=now)
        if status.gateway_refund_id and not refund.gateway_refund_id:
            # Still processing, or settled by a notification that did not carry it.
            refund.gateway_refund_id = status.gateway_refund_id
            refund.save(update_fields=["gateway_refund_id"])
    return refund


def _settle(refund: Refund, payment: Payment, *, gateway_refund_id: str, reason: str, at) -> str:
    """The money went back to the payer: book it on the payment, the order (which may
    revoke access) and the journal, and tell the learner. Returns the event outcome.

    The return of an unapplied payment is booked against the unapplied receipts only:
    the order was never paid by that payment, so it is left as it is."""
    if refund.status == Refund.Status.SUCCEEDED:
        return GatewayEvent.Outcome.DUPLICATE
    was_reserved = refund.in_flight
    if not was_reserved and refund.amount > payment.refundable_amount:
        payment_flag(
            payment, f"refund {refund.refund_no} succeeded at the gateway after failing here: check it"
        )
        return GatewayEvent.Outcome.IGNORED
    refunded_before = payment.refunded_amount
    change = apply_transition(
        refund,
        "succeed",
        history_model=RefundStatusChange,
        reason=reason,
        at=at,
        gateway_refund_id=gateway_refund_id,
    )
    if change is None:
        return GatewayEvent.Outcome.IGNORED
    unapplied = payment.status == Payment.Status.UNAPPLIED
    payment.refunded_amount += refund.amount
    if was_reserved:
        payment.refund_reserved -= refund.amount
    fields = ["refunded_amount", "refund_reserved"]
    if unapplied:
        payment.flag = f"returned to the payer by refund {refund.refund_no}"
        fields.append("flag")
    payment.save(update_fields=fields)
    refund.save(update_fields=["status", "succeeded_at", "gateway_refund_id"])
    change.save()
    order = payment.order
    if unapplied:
        ledger.post_unapplied_refund(refund=refund, payment=payment, at=at)
    else:
        order_record_refund(order=order, amount=refund.amount, at=at, reason=f"refund {refund.refund_no}")
        ledger.post_refund(
            refund=refund, payment=payment, order=order, refunded_before=refunded_before, at=at
        )
    _tell_learner_on_commit(refund, order)
    return GatewayEvent.Outcome.PROCESSED


def _fail(refund: Refund, payment: Payment, *, message: str, reason: str, at) -> str:
    change = apply_transition(
        refund,
        "fail",
        history_model=RefundStatusChange,
        reason=f"{reason}: {message}",
        at=at,
        message=message,
    )
    if change is None:
        return GatewayEvent.Outcome.IGNORED
    payment.refund_reserved -= refund.amount
    payment.save(update_fields=["refund_reserved"])
    refund.save(update_fields=["status", "failed_at", "failure_message"])
    change.save()
    logger.warning("refund %s failed: %s", refund.refund_no, message)
    return GatewayEvent.Outcome.PROCESSED


def _amount_fits(amount: int, refund: Refund, payment: Payment) -> bool:
    """Whether a refund notification's amount agrees with our records. Most gateways
    send the refund's own amount; Alipay sends the trade's cumulative refunded amount
    (``refund_fee``), which lies between this refund and everything refunded or in
    flight on the payment."""
    if amount == refund.amount:
        return True
    return refund.amount < amount <= payment.refunded_amount + payment.refund_reserved


def refund_notification_apply(
    *, gateway: Gateway, notification: Notification, now
) -> tuple[Payment, str, str]:
    """Apply a verified refund notification inside the caller's transaction; returns
    the payment, the event outcome and a detail. Channel-agnostic: the gateway backend
    has turned its own event (WeChat ``REFUND.*``, Alipay ``TRADE_*`` with
    ``refund_fee``, the sandbox's) into a :class:`Notification` of kind REFUND."""
    payment = locks.payment_lock_by_number(payment_no=notification.trade_no, gateway=gateway.alias)
    if payment is None:
        raise UnknownTrade()
    refund = locks.refund_lock_for_notification(
        payment=payment, refund_no=notification.refund_no, amount=notification.amount
    )
    if refund is None:
        why = f"refund {notification.refund_no or '?'} of {notification.amount} is not ours"
        payment_flag(payment, f"notification {notification.event_id}: {why}")
        return payment, GatewayEvent.Outcome.IGNORED, why
    detail = f"refund {refund.refund_no}"
    mismatch = merchant_ids_mismatch(notification.merchant_ids, gateway)
    amount_ok = (
        _amount_fits(notification.amount, refund, payment) and notification.currency == refund.currency
    )
    if not mismatch and not amount_ok:
        mismatch = (
            f"amount {notification.amount} {notification.currency} != {refund.amount} {refund.currency}"
        )
    if mismatch:
        payment_flag(payment, f"notification {notification.event_id}: {detail}: {mismatch}")
        return payment, GatewayEvent.Outcome.MISMATCH, f"{detail}: {mismatch}"
    reason = f"{notification.event_type} {notification.event_id}"
    if notification.state == RefundState.SUCCEEDED:
        outcome = _settle(refund, payment, gateway_refund_id="", reason=reason, at=now)
    elif notification.state == RefundState.FAILED:
        outcome = _fail(refund, payment, message=notification.event_type, reason=reason, at=now)
    else:
        outcome = GatewayEvent.Outcome.IGNORED
    return payment, outcome, detail


def refund_sync(*, refund: Refund) -> Refund:
    """Ask the gateway where a refund stands (its notification may be lost) and apply
    the answer. An approved refund whose task was lost is sent; one the gateway has
    never heard of is sent again under the same number."""
    if refund.status == Refund.Status.APPROVED:
        return refund_process(refund_id=refund.pk)
    if refund.status != Refund.Status.PROCESSING:
        return refund
    payment = refund.payment
    gateway = get_gateway(payment.gateway)
    try:
        status = gateway.query_refund(refund.refund_no, payment_no=payment.payment_no)
    except GatewayRejected:
        return refund_process(refund_id=refund.pk)
    return _apply_status(refund.pk, status, reason="gateway query")


def refunds_sync_pending(*, now=None) -> int:
    """The periodic sweep: settle refunds without news; returns how many changed state.
    An unreachable gateway leaves its refunds for the next run."""
    now = now or timezone.now()
    changed = 0
    for refund in list(
        selectors.refunds_to_sync(now=now, older_than=SYNC_AFTER).select_related("payment")[:SYNC_BATCH]
    ):
        before = refund.status
        try:
            changed += refund_sync(refund=refund).status != before
        except (GatewayUnavailable, InvalidResponse):
            logger.info("refund %s: gateway did not answer the query; next run", refund.refund_no)
    return changed


# -- telling the learner ----------------------------------------------------------------
def _tell_learner_on_commit(refund: Refund, order: Order) -> None:
    learner = order.learner
    if not learner.email:
        return
    amount = f"{Decimal(refund.amount) / 100:.2f}"
    if refund.status == Refund.Status.SUCCEEDED:
        subject = _("Your refund for order %(order_no)s was paid") % {"order_no": order.order_no}
        body = _(
            "We have refunded %(amount)s %(currency)s for order %(order_no)s (refund %(refund_no)s). "
            "It reaches your account on the gateway's usual schedule."
        )
    elif refund.status == Refund.Status.DENIED:
        subject = _("Your refund request for order %(order_no)s was declined") % {"order_no": order.order_no}
        body = _(
            "Your request for a refund of %(amount)s %(currency)s for order %(order_no)s "
            "(refund %(refund_no)s) was declined: %(note)s"
        )
    else:
        return
    message = body % {
        "amount": amount,
        "currency": refund.currency,
        "order_no": order.order_no,
        "refund_no": refund.refund_no,
        "note": refund.decision_note,
    }
    recipient = learner.email

    def send():
        try:
            send_mail(subject, message, None, [recipient])
        except Exception:
            logger.exception("refund %s: could not e-mail the learner", refund.refund_no)

    transaction.on_commit(send)
