"""Every write of settlement, by sub-domain: completing orders (``completion``),
statements (``statements``) and payouts (``payouts``). Callers import them from here."""

from .completion import order_settle, orders_settle_due
from .payouts import (
    payout_accounts_reencrypt,
    payout_approve,
    payout_fail,
    payout_mark_paid,
    payout_reject,
    payout_request,
)
from .statements import period_end_for, statements_generate, statements_generate_due

__all__ = [
    "order_settle",
    "orders_settle_due",
    "payout_accounts_reencrypt",
    "payout_approve",
    "payout_fail",
    "payout_mark_paid",
    "payout_reject",
    "payout_request",
    "period_end_for",
    "statements_generate",
    "statements_generate_due",
]
