"""Telling staff a payment needs a look, and the check that most often makes it so.

``Payment.flag`` holds the latest reason (the admin filters on it); every flag is also a
row of the payment's status history (transition ``flag``, from and to its current
status, the reason), so an overwritten flag is never lost.
"""

import logging

from django.utils import timezone

from ..gateways.base import Gateway
from ..models import Payment, PaymentStatusChange

logger = logging.getLogger("payments")

FLAG_TRANSITION = "flag"


def merchant_ids_mismatch(reported, gateway: Gateway) -> str:
    """Why the account a gateway reports is not ours ('' when it is)."""
    if dict(reported) != dict(gateway.merchant_ids):
        return f"merchant ids {dict(reported)} are not ours"
    return ""


def payment_flag_change(payment: Payment, *, at, actor=None) -> PaymentStatusChange:
    """The (unsaved) history row of the flag just set on ``payment``, for callers that save
    the flag together with other fields."""
    return PaymentStatusChange(
        payment=payment,
        from_status=payment.status,
        to_status=payment.status,
        transition=FLAG_TRANSITION,
        actor=actor,
        reason=payment.flag,
        created_at=at,
    )


def payment_flag(*, payment: Payment, why: str, actor=None) -> None:
    """Mark a (locked) payment for staff with the reason, and record it in its history."""
    payment.flag = why[:255]
    payment.save(update_fields=["flag"])
    payment_flag_change(payment, at=timezone.now(), actor=actor).save()
    logger.warning("payment %s flagged: %s", payment.payment_no, why)


def payment_flag_if_mismatch(
    *, payment: Payment, gateway: Gateway, source: str, amount, currency, merchant_ids
) -> str:
    """Compare what the gateway says with our records; on a mismatch flag the payment for
    staff and return why ('' when everything matches)."""
    mismatch = merchant_ids_mismatch(merchant_ids, gateway)
    if not mismatch and (amount != payment.amount or currency != payment.currency):
        mismatch = f"amount {amount} {currency} != expected {payment.amount} {payment.currency}"
    if mismatch:
        payment_flag(payment=payment, why=f"{source}: {mismatch}")
    return mismatch
