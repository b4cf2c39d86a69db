"""The double-entry journal (交易流水): account names and postings.

Each :class:`~payments.models.JournalEntry` row moves an amount from one account to
another, so every row balances by construction. A business event posts one or more
rows under one ``posting_id`` with a single INSERT.

Commission rounding: ``commission = round_half_up(total × rate)`` in whole fen, and the
merchant gets ``total − commission``; the two always add up to the total, so no fen
is ever created or lost.
"""

import uuid
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum

from .models import JournalEntry


# -- account names ------------------------------------------------------------
def gateway_clearing(channel: str) -> str:
    """Money the gateway holds for us (received from payers, not yet in our bank)."""
    return f"gateway_clearing:{channel}"


def merchant_pending(merchant_id: int) -> str:
    """A merchant's share of orders still inside the refund window."""
    return f"merchant:{merchant_id}:pending"


PLATFORM_COMMISSION = "platform:commission"
UNAPPLIED_RECEIPTS = "platform:unapplied_receipts"  # received for nothing: owed back


def commission_for(total: int, rate: Decimal) -> int:
    if total < 0 or not Decimal(0) <= rate <= Decimal(1):
        raise ValueError("total must be >= 0 and rate within [0, 1]")
    return int((Decimal(total) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def post_payment_received(*, payment, order, merchant, at) -> list[JournalEntry]:
    """A payment applied to its order: the merchant's share is pending, the rest is ours."""
    commission = commission_for(payment.amount, merchant.effective_commission_rate)
    legs = [
        (merchant_pending(merchant.pk), payment.amount - commission, "merchant share"),
        (PLATFORM_COMMISSION, commission, "platform commission"),
    ]
    return _post(
        kind=JournalEntry.Kind.PAYMENT,
        debit=gateway_clearing(payment.channel),
        credits=legs,
        payment=payment,
        order=order,
        merchant=merchant,
        at=at,
    )


def post_payment_unapplied(*, payment, order, at) -> list[JournalEntry]:
    """Money received that no order can take: held as owed back until refunded."""
    return _post(
        kind=JournalEntry.Kind.UNAPPLIED,
        debit=gateway_clearing(payment.channel),
        credits=[(UNAPPLIED_RECEIPTS, payment.amount, payment.flag or "unapplied payment")],
        payment=payment,
        order=order,
        merchant=None,
        at=at,
    )


def _post(*, kind, debit, credits, payment, order, merchant, at) -> list[JournalEntry]:
    posting_id = uuid.uuid4()
    rows = [
        JournalEntry(
            posting_id=posting_id,
            kind=kind,
            debit_account=debit,
            credit_account=credit,
            amount=amount,
            currency=payment.currency,
            merchant=merchant,
            order=order,
            payment=payment,
            memo=memo,
            created_at=at,
        )
        for credit, amount, memo in credits
        if amount > 0
    ]
    return JournalEntry.objects.bulk_create(rows)


def account_balances(queryset=None) -> dict[str, int]:
    """Balance of every account (debits minus credits) over ``queryset`` of entries.

    The balances of all accounts always sum to zero: every entry adds an amount to one
    account and takes it from another.
    """
    queryset = JournalEntry.objects.all() if queryset is None else queryset
    balances: dict[str, int] = defaultdict(int)
    for row in queryset.values("debit_account").annotate(total=Sum("amount")):
        balances[row["debit_account"]] += row["total"]
    for row in queryset.values("credit_account").annotate(total=Sum("amount")):
        balances[row["credit_account"]] -= row["total"]
    return dict(balances)
