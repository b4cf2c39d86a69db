"""Reading the journal: account balances, a merchant's accounts, a payment's commission."""

from collections import defaultdict

from django.db.models import Q, Sum

from ..models import JournalEntry
from .accounts import MERCHANT_ACCOUNT_KINDS, PLATFORM_COMMISSION, merchant_available, merchant_pending


def payment_commission(payment) -> int:
    """The commission the payment's own posting took (rates may have changed since)."""
    return (
        JournalEntry.objects.filter(
            payment=payment, kind=JournalEntry.Kind.PAYMENT, credit_account=PLATFORM_COMMISSION
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )


def order_pending_balance(order) -> int:
    """What the merchant has pending for ``order``: its share, less refunds and fees
    charged while the order was in its refund window."""
    account = merchant_pending(order.merchant_id)
    totals = JournalEntry.objects.filter(order=order).aggregate(
        credited=Sum("amount", filter=Q(credit_account=account)),
        debited=Sum("amount", filter=Q(debit_account=account)),
    )
    return (totals["credited"] or 0) - (totals["debited"] or 0)


def merchant_balances(merchant_ids=None) -> dict[int, dict[str, int]]:
    """Each merchant's accounts as the merchant sees them (what it is owed, positive):
    ``{merchant_id: {"pending": …, "available": …, "payouts": …, "paid_out": …}}``.
    Two aggregate queries, however many merchants."""
    entries = JournalEntry.objects.filter(merchant__isnull=False)
    if merchant_ids is not None:
        entries = entries.filter(merchant_id__in=list(merchant_ids))
    result: dict[int, dict[str, int]] = {}
    for account, balance in account_balances(entries).items():
        parts = account.split(":")
        if parts[0] == "merchant":
            merchant_balance = result.setdefault(int(parts[1]), dict.fromkeys(MERCHANT_ACCOUNT_KINDS, 0))
            merchant_balance[parts[2]] = -balance
    if merchant_ids is not None:
        for merchant_id in merchant_ids:
            result.setdefault(merchant_id, dict.fromkeys(MERCHANT_ACCOUNT_KINDS, 0))
    return result


def merchant_available_balance(merchant_id: int, *, owner: str = "") -> int:
    """What the merchant may withdraw now (negative: what it owes). One query; the
    caller locks the merchant first when it is about to spend it. With ``owner``
    (``promoter:<id>``), the available balance of that owner, kept under the merchant."""
    account = f"{owner}:available" if owner else merchant_available(merchant_id)
    totals = JournalEntry.objects.filter(merchant_id=merchant_id).aggregate(
        credited=Sum("amount", filter=Q(credit_account=account)),
        debited=Sum("amount", filter=Q(debit_account=account)),
    )
    return (totals["credited"] or 0) - (totals["debited"] or 0)


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
