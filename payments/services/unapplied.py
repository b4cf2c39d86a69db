"""Returning money no order took (an unapplied payment) to its payer."""

from django.db import transaction
from django.utils import timezone

from courses import permissions

from .. import locks
from ..exceptions import PaymentNotFound, PaymentNotUnapplied, RefundNotAllowed, UnappliedAlreadyReturned
from ..models import Payment, Refund, RefundStatusChange
from .refunds import refund_approve_at_once, refund_approve_step, refund_open, refund_reason_clean


def unapplied_returnable(payment: Payment) -> bool:
    """An unapplied payment nothing of which is refunded or on its way back."""
    return payment.status == Payment.Status.UNAPPLIED and payment.refundable_amount == payment.amount


def refund_unapplied(*, actor, payment_id: int, reason: str) -> Refund:
    """Give an unapplied payment (its order was paid by another payment, or closed) back
    to its payer, in full, through its gateway.

    It is an ordinary refund of that payment (same life cycle, gateway call after
    commit, refund number as idempotency key, four eyes above the approval threshold
    as for :func:`~payments.services.refunds.refund_issue`), but on success it is booked
    against the unapplied receipts, never on the order (see
    the settling in :mod:`payments.services.refund_gateway`). The amount is reserved on the
    payment, so only one return can be under way or succeed."""
    if not permissions.may_return_unapplied(actor):
        raise RefundNotAllowed()
    reason = refund_reason_clean(reason)
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
        refund, opened = refund_open(
            payment,
            actor=actor,
            origin=Refund.Origin.STAFF,
            amount=payment.amount,
            reason=reason,
            at=now,
            transition="issue",
        )
        RefundStatusChange.objects.bulk_create(
            [opened, refund_approve_step(refund, actor=actor, note=reason, at=now)]
        )
    return refund


def refund_unapplied_by_system(payment: Payment, *, reason: str, at) -> Refund:
    """Return a payment that was just kept as unapplied (its order was already paid by
    another attempt, or closed) to its payer, in full, at once, with the system as the
    actor (``KPAY_AUTO_RETURN_UNAPPLIED``).

    No four eyes: nobody chooses anything here. The money is the payer's, it goes back
    whole to the account it came from, through the payment it came on, and the platform
    never counted it as revenue (it sits in the unapplied receipts). It is the same
    reasoning as risk control's returns (``refund_issue_for_risk``). The caller holds
    the payment's lock; the refund goes to the gateway after commit, like any other."""
    refund, opened = refund_open(
        payment,
        actor=None,
        origin=Refund.Origin.UNAPPLIED,
        amount=payment.amount,
        reason=reason[:255],
        at=at,
        transition="issue",
    )
    approved = refund_approve_at_once(refund, actor=None, note=reason[:255], at=at)
    RefundStatusChange.objects.bulk_create([opened, approved])
    return refund
