"""Refunds at the gateway: sending approved refunds, and settling them on what the gateway
answers, notifies or tells us when asked.

Gateway calls happen outside transactions (in the ``payments.tasks.process_refund`` task,
after the approval committed), with the refund number as the gateway's idempotency key.
Each answer is applied once, under the payment's lock, then the refund's.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.transitions import apply_transition
from orders.services import order_record_refund

from .. import ledger, locks, selectors
from ..exceptions import GatewayRejected, GatewayUnavailable, InvalidResponse, UnknownTrade
from ..gateways import get_gateway
from ..gateways.base import Gateway, Notification, RefundRequest, RefundState, RefundStatus
from ..models import GatewayEvent, Payment, Refund, RefundStatusChange
from .flags import merchant_ids_mismatch, payment_flag, payment_flag_change
from .refund_mail import refund_learner_notify_on_commit

logger = logging.getLogger(__name__)

SYNC_AFTER = timedelta(minutes=2)
SYNC_BATCH = 200


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
        payment, refund = locks.refund_lock_with_payment(refund_id=refund_id)
        if status.amount is not None and status.amount != refund.amount:
            payment_flag(
                payment=payment,
                why=f"refund {refund.refund_no}: gateway says {status.amount}, we asked {refund.amount}",
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
        why = f"refund {refund.refund_no} succeeded at the gateway after failing here: check it"
        payment_flag(payment=payment, why=why)
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
    if unapplied:
        payment_flag_change(payment, at=at).save()
    order = payment.order
    if unapplied:
        ledger.post_unapplied_refund(refund=refund, payment=payment, at=at)
    else:
        order_record_refund(order=order, amount=refund.amount, at=at, reason=f"refund {refund.refund_no}")
        ledger.post_refund(
            refund=refund, payment=payment, order=order, refunded_before=refunded_before, at=at
        )
    refund_learner_notify_on_commit(refund=refund, order=order)
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
        payment_flag(payment=payment, why=f"notification {notification.event_id}: {why}")
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
        payment_flag(payment=payment, why=f"notification {notification.event_id}: {detail}: {mismatch}")
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
