"""The double-entry journal (交易流水): account names and postings.

Each :class:`~payments.models.JournalEntry` row moves an amount from one account to
another, so every row balances by construction. A business event posts one or more
rows under one ``posting_id`` with a single INSERT.

Commission rounding: ``commission = round_half_up(total × rate)`` in whole fen, and the
merchant gets ``total − commission``; the two always add up to the total, so no fen
is ever created or lost.

Refund rounding: a refund takes back the commission in proportion to what has been
refunded of the payment *in total*, with the commission the payment actually posted
(not today's rate): after refunds adding up to ``R`` of a payment ``A`` that posted a
commission ``C``, ``round_half_up(C × R / A)`` of the commission has been reversed.
Each refund reverses the difference between that figure after and before it, and the
merchant's share the rest of the refund. So every leg is ≥ 0, the reversals never add
up to more than the original legs, a full refund (in one go or in parts) reverses
them exactly, and each posting moves exactly the refunded amount out of clearing.
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


def commission_reversed(*, commission: int, amount: int, refunded: int) -> int:
    """How much of a payment's ``commission`` is reversed once ``refunded`` of its
    ``amount`` has been refunded: ``round_half_up(commission × refunded / amount)``,
    in integers (no float, no Decimal)."""
    if not (0 <= refunded <= amount and 0 <= commission <= amount and amount > 0):
        raise ValueError("need 0 <= refunded <= amount, 0 <= commission <= amount, amount > 0")
    return (2 * commission * refunded + amount) // (2 * amount)


def refund_split(*, commission: int, amount: int, refunded_before: int, refund: int) -> tuple[int, int]:
    """(merchant share, commission share) of a refund of ``refund`` fen, when
    ``refunded_before`` had already been refunded of the payment. They add up to the
    refund, and neither is negative."""
    commission_part = commission_reversed(
        commission=commission, amount=amount, refunded=refunded_before + refund
    ) - commission_reversed(commission=commission, amount=amount, refunded=refunded_before)
    return refund - commission_part, commission_part


def payment_commission(payment) -> int:
    """The commission the payment's own posting took (rates may have changed since)."""
    return (
        JournalEntry.objects.filter(
            payment=payment, kind=JournalEntry.Kind.PAYMENT, credit_account=PLATFORM_COMMISSION
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )


def post_refund(*, refund, payment, order, refunded_before: int, at) -> list[JournalEntry]:
    """A refund left the gateway: take the refunded share back from the merchant and
    from the platform's commission, in proportion (see the module's rounding rule).

    Merchant money is taken from the merchant's pending account: there is no settlement
    yet. When settlement exists, a refund of a settled order is charged back to the
    merchant's available balance instead (this function is where to choose).
    """
    merchant_part, commission_part = refund_split(
        commission=payment_commission(payment),
        amount=payment.amount,
        refunded_before=refunded_before,
        refund=refund.amount,
    )
    clearing = gateway_clearing(payment.channel)
    legs = [
        (merchant_pending(order.merchant_id), merchant_part, f"refund {refund.refund_no}: merchant share"),
        (PLATFORM_COMMISSION, commission_part, f"refund {refund.refund_no}: platform commission"),
    ]
    posting_id = uuid.uuid4()
    rows = [
        JournalEntry(
            posting_id=posting_id,
            kind=JournalEntry.Kind.REFUND,
            debit_account=debit,
            credit_account=clearing,
            amount=amount,
            currency=payment.currency,
            merchant_id=order.merchant_id,
            order=order,
            payment=payment,
            refund=refund,
            memo=memo,
            created_at=at,
        )
        for debit, amount, memo in legs
        if amount > 0
    ]
    return JournalEntry.objects.bulk_create(rows)


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
