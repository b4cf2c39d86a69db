"""Settlement's ledger invariants, registered with ``payments.ledger.checks`` (run by
``manage.py ledger_check`` and after every database test).

* Statements are a cache of the journal: every figure still equals what the journal
  says, each statement's closing available balance is the next one's opening, and a
  merchant's statements do not overlap. Their merchant coupons (not in the journal)
  equal the redemptions', day by day, and every merchant's days add up to its
  redemptions' discounts less what refunds took back.
* Payouts are mirrored in the journal: a merchant's ``payouts`` account holds its
  requested and approved payouts, ``paid_out`` its paid ones, and each payout posted
  exactly the stages its status implies.
"""

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator
from datetime import date

from django.db import connection
from django.db.models import QuerySet, Sum

from payments import ledger
from payments.ledger import checks as ledger_check
from payments.models import JournalEntry

from . import coupons, payees, selectors
from .models import Payout, SettlementStatement

LIMIT = 100


def journal_days(entries: QuerySet[JournalEntry]) -> dict[tuple[int, date], dict[str, int]]:
    """``{(merchant_id, local date): components}`` of ``entries`` that carry a merchant:
    the figures of :func:`selectors.components_by_merchant_day` (what the summary folds
    and the statements are built from), read faster over the whole journal.

    ``components_by_merchant_day`` counts orders and refunds with ``COUNT(DISTINCT …)``
    beside the sums, which makes PostgreSQL sort every entry by merchant and day (two
    million rows, on disk: 7-10 s at 3.2 million entries on the shared machine). Here
    the sums are hashed by merchant and day (a few thousand groups, in memory) and each
    count takes a narrow pass of its own: the distinct (merchant, day, item) hashed, then
    counted."""
    entries = entries.filter(merchant__isnull=False).order_by().annotate(day=selectors.local_day())
    sums = {name: Sum("amount", filter=q) for name, q in selectors.COMPONENTS.items()}
    rows = entries.values("merchant_id", "day").annotate(**sums)
    days = {(row["merchant_id"], row["day"]): selectors.components_of(row) for row in rows}
    _add_counts(days, entries)
    return days


def _add_counts(days: dict, entries: QuerySet[JournalEntry]) -> None:
    """The counts (``selectors.COUNTS``) of ``entries`` (annotated with their ``day``) by
    merchant and day, set on ``days``."""
    quote = connection.ops.quote_name
    for name, (field, within) in selectors.COUNTS.items():
        column = JournalEntry._meta.get_field(field).column
        distinct = entries.filter(within).values("merchant_id", "day", column).distinct()
        distinct_sql, params = distinct.query.sql_with_params()
        sql = (
            f"SELECT {quote('merchant_id')}, {quote('day')}, COUNT({quote(column)}) "  # noqa: S608
            f"FROM ({distinct_sql}) d GROUP BY {quote('merchant_id')}, {quote('day')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for merchant_id, day, count in cursor.fetchall():
                day = date.fromisoformat(day) if isinstance(day, str) else day  # (SQLite's)
                days.setdefault((merchant_id, day), dict(selectors.ZERO))[name] = count


def _statements():
    return list(
        SettlementStatement.objects.order_by("merchant_id", "period_start", "period_end").only(
            "pk", "merchant_id", "period_start", "period_end", *SettlementStatement.FIGURES
        )
    )


@ledger_check.register
def statements_match_journal() -> Iterator[str]:
    """Every statement's figures equal the journal's for its merchant and period.

    Two queries: the statements, and the journal summed by merchant and local day;
    prefix sums over the days then give any period's figures and opening balance.
    """
    statements = _statements()
    if not statements:
        return
    merchant_ids = {s.merchant_id for s in statements}
    daily = journal_days(selectors.merchant_entries(merchant_ids))
    days: dict[int, list] = defaultdict(list)
    for (merchant_id, day), components in daily.items():
        days[merchant_id].append((day, components))
    prefix: dict[int, tuple[list, list]] = {}
    for merchant_id, rows in days.items():
        rows.sort(key=lambda row: row[0])
        running = dict(selectors.ZERO)
        sums = [dict(running)]
        for _day, components in rows:
            running = selectors.add_components(dict(running), components)
            sums.append(running)
        prefix[merchant_id] = ([day for day, _ in rows], sums)

    reported = 0
    for statement in statements:
        dates, sums = prefix.get(statement.merchant_id, ([], [dict(selectors.ZERO)]))
        before = sums[bisect_left(dates, statement.period_start)]
        through = sums[bisect_right(dates, statement.period_end)]
        period = selectors.add_components(dict(through), before, sign=-1)
        opening = before["available_in"] - before["available_out"]
        expected = selectors.figures_from(period, opening_available=opening)
        stored = statement.figures()
        if stored != expected:
            diff = {name: (stored[name], expected[name]) for name in stored if stored[name] != expected[name]}
            yield f"statement {statement.pk} ({statement}): stored vs journal {diff}"
            reported += 1
            if reported >= LIMIT:
                return


@ledger_check.register
def statements_merchant_coupons() -> Iterator[str]:
    """Merchant coupons (``settlement.coupons``): each statement's figure is the sum of
    its days, and each merchant's days add up to ``amount − reversed_amount`` of its
    merchant-funded redemptions on paid orders. Four queries."""
    days = coupons.merchant_coupon_days()
    by_merchant: dict[int, int] = defaultdict(int)
    for (merchant_id, _day), fen in days.items():
        by_merchant[merchant_id] += fen
    redeemed = dict(
        coupons.merchant_redemptions()
        .values_list("merchant_id")
        .annotate(net=Sum("amount") - Sum("reversed_amount"))
    )
    reported = 0
    for merchant_id in sorted(set(by_merchant) | set(redeemed)):
        if by_merchant.get(merchant_id, 0) != (redeemed.get(merchant_id) or 0):
            yield (
                f"merchant {merchant_id}: merchant coupons on its days {by_merchant.get(merchant_id, 0)}, "
                f"its redemptions less refunds {redeemed.get(merchant_id) or 0}"
            )
            reported += 1
    # Prefix sums over each merchant's days give any period's figure (as above).
    dates: dict[int, list[date]] = defaultdict(list)
    sums: dict[int, list[int]] = defaultdict(lambda: [0])
    for (merchant_id, day), fen in sorted(days.items()):
        dates[merchant_id].append(day)
        sums[merchant_id].append(sums[merchant_id][-1] + fen)
    statements = SettlementStatement.objects.order_by("merchant_id", "period_start").values_list(
        "pk", "merchant_id", "period_start", "period_end", "merchant_coupons"
    )
    for pk, merchant_id, first, last, stored in statements:
        if reported >= LIMIT:
            return
        running = sums[merchant_id]
        expected = (
            running[bisect_right(dates[merchant_id], last)] - running[bisect_left(dates[merchant_id], first)]
        )
        if stored != expected:
            yield (
                f"statement {pk} (merchant {merchant_id}, {first}..{last}): merchant coupons {stored}, "
                f"its redemptions say {expected}"
            )
            reported += 1


@ledger_check.register
def statements_chain() -> Iterator[str]:
    """A merchant's statements follow each other: no overlap, and each closing
    available balance is the next statement's opening balance."""
    previous = None
    reported = 0
    for statement in _statements():
        if previous is not None and previous.merchant_id == statement.merchant_id:
            if statement.period_start <= previous.period_end:
                merchant_id = statement.merchant_id
                yield f"statements {previous.pk} and {statement.pk} of merchant {merchant_id} overlap"
                reported += 1
            elif statement.opening_available != previous.closing_available:
                yield (
                    f"statement {statement.pk} ({statement}) opens at {statement.opening_available}, "
                    f"statement {previous.pk} closed at {previous.closing_available}"
                )
                reported += 1
        if reported >= LIMIT:
            return
        previous = statement


@ledger_check.register
def payouts_match_journal() -> Iterator[str]:
    """Each merchant's ``payouts`` account holds its requested and approved payouts and
    ``paid_out`` its paid ones; each payout posted the stages its status implies, once."""
    kinds = [JournalEntry.Kind.PAYOUT, JournalEntry.Kind.PAYOUT_RETURNED, JournalEntry.Kind.PAYOUT_PAID]
    entries = JournalEntry.objects.filter(kind__in=kinds)
    held: dict[tuple[str, str], int] = defaultdict(int)  # (owner, account): the owner's payouts
    for account, balance in ledger.account_balances(entries).items():
        owner, _, kind = account.rpartition(":")
        if kind in ("payouts", "paid_out"):
            held[(owner, kind)] = -balance
    expected: dict[tuple[str, str], int] = defaultdict(int)
    rows = Payout.objects.order_by().values("merchant_id", "payee", "status").annotate(total=Sum("amount"))
    for row in rows:
        owner = payees.owner_of(payee=row["payee"], merchant_id=row["merchant_id"])
        if row["status"] in Payout.IN_FLIGHT_STATUSES:
            expected[(owner, "payouts")] += row["total"]
        elif row["status"] == Payout.Status.PAID:
            expected[(owner, "paid_out")] += row["total"]
    for key in sorted(set(held) | set(expected)):
        if held.get(key, 0) != expected.get(key, 0):
            owner, account = key
            yield (
                f"{owner.replace(':', ' ')}: {account} holds {held.get(key, 0)}, "
                f"its payouts say {expected.get(key, 0)}"
            )

    stages = {
        Payout.Status.REQUESTED: {"requested"},
        Payout.Status.APPROVED: {"requested"},
        Payout.Status.PAID: {"requested", "paid"},
        Payout.Status.REJECTED: {"requested", "returned"},
        Payout.Status.FAILED: {"requested", "returned"},
    }
    posted: dict[str, dict[str, int]] = defaultdict(dict)
    for reference, amount in entries.values_list("reference", "amount"):
        payout_no, _, stage = reference.rpartition(":")
        posted[payout_no][stage] = amount
    reported = 0
    for payout_no, status, amount in Payout.objects.values_list("payout_no", "status", "amount"):
        got = posted.pop(payout_no, {})
        want = dict.fromkeys(stages[status], amount)
        if got != want:
            yield f"payout {payout_no} ({status}, {amount}): journal has {got}"
            reported += 1
        if reported >= LIMIT:
            return
    for payout_no in sorted(posted)[:LIMIT]:
        yield f"journal entries {sorted(posted[payout_no])} for unknown payout {payout_no!r}"
