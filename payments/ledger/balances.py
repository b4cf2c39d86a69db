"""Reading the journal: account balances, a merchant's accounts, a payment's commission."""

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models import Min, Q, Sum

from ..models import JournalEntry
from .accounts import PLATFORM_COMMISSION, merchant_available, merchant_pending


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


def account_pair_totals() -> list[tuple[str, str, int | None, int, int]]:
    """Each ``(debit account, credit account, merchant id)`` of the journal with the sum
    and the smallest of its entries' amounts: one pass over the journal, a few hundred
    groups (hashed in the database), from which every balance follows, every account is
    seen with the merchant of its entries and every entry's amount and accounts are
    vouched for (``ledger_check.accounts_well_formed``, ``entries_well_formed``)."""
    rows = (
        JournalEntry.objects.order_by()
        .values("debit_account", "credit_account", "merchant_id")
        .annotate(total=Sum("amount"), smallest=Min("amount"))
        .values_list("debit_account", "credit_account", "merchant_id", "total", "smallest")
    )
    return list(rows)


_balances_of_run: dict | None = None


@contextmanager
def balances_read_once() -> Iterator[None]:
    """Inside, :func:`journal_account_balances` and :func:`journal_account_totals` read
    the journal once (one grouped pass) and reuse it: several checks need them."""
    global _balances_of_run
    _balances_of_run = {}
    try:
        yield
    finally:
        _balances_of_run = None


def journal_account_totals() -> list[tuple[str, str, int | None, int, int]]:
    """:func:`account_pair_totals` of the whole journal (see :func:`balances_read_once`)."""
    if _balances_of_run is None:
        return account_pair_totals()
    if "totals" not in _balances_of_run:
        _balances_of_run["totals"] = account_pair_totals()
    return _balances_of_run["totals"]


def journal_account_balances() -> dict[str, int]:
    """Every account's balance over the whole journal (see :func:`balances_read_once`)."""
    if _balances_of_run is None:
        return account_balances()
    if "all" not in _balances_of_run:
        balances: dict[str, int] = defaultdict(int)
        for debit, credit, _merchant_id, total, _smallest in journal_account_totals():
            balances[debit] += total
            balances[credit] -= total
        _balances_of_run["all"] = dict(balances)
    return _balances_of_run["all"]
