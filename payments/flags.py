"""Telling staff a payment needs a look, and the check that most often makes it so.
Shared by payment and refund handling (services imports refunds, so neither can hold it)."""

import logging

from .gateways.base import Gateway
from .models import Payment

logger = logging.getLogger("payments")


def merchant_ids_mismatch(reported, gateway: Gateway) -> str:
    """Why the account a gateway reports is not ours ('' when it is)."""
    if dict(reported) != dict(gateway.merchant_ids):
        return f"merchant ids {dict(reported)} are not ours"
    return ""


def payment_flag(payment: Payment, why: str) -> None:
    """Mark a (locked) payment for staff, with the reason."""
    payment.flag = why[:255]
    payment.save(update_fields=["flag"])
    logger.warning("payment %s flagged: %s", payment.payment_no, why)
