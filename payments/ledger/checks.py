"""The journal's invariants, checked against itself and against the records it mirrors.

``manage.py ledger_check`` runs every check and exits non-zero on any breach; the test
suite runs them after every test that touched the database. A check is a function
that yields one human-readable line per breach. Apps that keep figures derived from
the journal (settlement statements, payouts) register their own with :func:`register`
in ``AppConfig.ready``, so ``payments`` never imports them.

Each check is one or a few aggregate queries that return only the rows in breach, so
the whole run stays cheap on a journal of millions of entries. A run reads one snapshot
(:func:`one_snapshot`): checks that compare two tables, or the journal with a summary
and its checkpoint, never see a posting on one side and not yet on the other.
"""

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from orders.models import Order
from promotions.models import Coupon, PointsEntry, PointsLot, Redemption
from promotions.points import points_returned, points_value

from ..models import JournalEntry, JournalSummary, Payment, Refund
from . import summaries
from .accounts import ACCOUNT_PATTERN, PLATFORM_PROMOTIONS, POINTS_LIABILITY, gateway_clearing
from .balances import balances_read_once, journal_account_balances, journal_account_totals

Check = Callable[[], Iterable[str]]
_CHECKS: list[Check] = []


def register(check: Check) -> Check:
    if check not in _CHECKS:
        _CHECKS.append(check)
    return check


# Room for the run's hashed passes (the distinct orders of each merchant's days: about
# 130 MB at 950,000 paid orders, within work_mem times PostgreSQL's hash_mem_multiplier
# of 2), in memory rather than spilled to disk; for the run's transaction only.
WORK_MEM = "64MB"


@contextmanager
def one_snapshot() -> Iterator[None]:
    """Every query inside reads the same snapshot of the database: a read-only
    ``REPEATABLE READ`` transaction on PostgreSQL (with :data:`WORK_MEM` for its
    aggregates). Inside a transaction already (a test, a caller's), its own snapshot
    stands; SQLite's single writer needs nothing."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        yield


def run(*, timings: list[tuple[str, float]] | None = None) -> list[str]:
    """Every breach of every registered check (empty when the books are sound), all read
    in one snapshot (:func:`one_snapshot`). The balance of every account is read once for
    the whole run, not once per check. With ``timings``, each check's name and wall time
    in seconds are appended to it, in the order they ran."""
    breaches: list[str] = []
    with one_snapshot(), balances_read_once():
        for check in _CHECKS:
            started = time.perf_counter()
            breaches += [f"{check.__name__}: {breach}" for breach in check()]
            if timings is not None:
                timings.append((check.__name__, time.perf_counter() - started))
    return breaches


def checks() -> list[Check]:
    return list(_CHECKS)


def _posted_not_expected(rows, *, entries, key: str, expected, number: str) -> Iterator[str]:
    """The rows (payments or refunds, named by their ``number`` field) whose journal total
    (``entries`` summed by their ``key``: the row's id) differs from the ``expected`` one.

    One grouped pass over ``entries`` joined once to the rows (a hash or merge join the
    planner picks), not a correlated sum per row: 950,000 index probes for the payments
    of ``bench/scale.py``. Django cannot join a grouped subquery, so the two querysets'
    own SQL is joined here; a row without entries posted 0."""
    what = number.removesuffix("_no")
    rows = rows.order_by().annotate(expected=expected).values("id", number, "status", "expected")
    posted = entries.order_by().values(key).annotate(posted=Sum("amount")).values(key, "posted")
    rows_sql, rows_params = rows.query.sql_with_params()
    posted_sql, posted_params = posted.query.sql_with_params()
    q = connection.ops.quote_name
    sql = (
        f"SELECT r.{q(number)}, r.{q('status')}, COALESCE(j.{q('posted')}, 0), r.{q('expected')} "  # noqa: S608
        f"FROM ({rows_sql}) r LEFT JOIN ({posted_sql}) j ON j.{q(key)} = r.{q('id')} "
        f"WHERE COALESCE(j.{q('posted')}, 0) <> r.{q('expected')} LIMIT 100"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*rows_params, *posted_params])
        bad = cursor.fetchall()
    for row_number, status, posted_total, expected_total in bad:
        yield f"{what} {row_number} ({status}): posted {posted_total}, expected {expected_total}"


@register
def accounts_well_formed() -> Iterator[str]:
    """Every account has a known name, and a merchant's account carries its merchant."""
    pattern = re.compile(ACCOUNT_PATTERN)
    # Both sides of every entry with its merchant, from the run's one grouped pass over
    # the journal (the balances' too), deduplicated: each breach is reported once.
    seen: set[tuple[str, int | None]] = set()
    for debit, credit, merchant_id, _total, _smallest in journal_account_totals():
        for account in (debit, credit):
            if (account, merchant_id) in seen:
                continue
            seen.add((account, merchant_id))
            if not pattern.match(account):
                yield f"unknown account {account!r}"
            elif account.startswith("merchant:") and account.split(":")[1] != str(merchant_id):
                yield f"{account} on an entry of merchant {merchant_id}"


@register
def summaries_match_journal() -> Iterator[str]:
    """Each summary of the journal (account balances, daily figures) is what the journal
    says up to its checkpoint (``payments.ledger.summaries``)."""
    through = dict(JournalSummary.objects.values_list("name", "through_entry"))
    for summary in summaries.summaries():
        for breach in summary.verify(through.get(summary.name, 0)):
            yield f"{summary.name}: {breach}"


@register
def entries_well_formed() -> Iterator[str]:
    """Positive amounts between two different accounts (the database's own checks,
    verified again in case rows were written around them)."""
    # The run's grouped pass over the journal has every (debit, credit) pair with its
    # smallest amount: the entries are looked for only when a pair says one is wrong.
    if all(smallest > 0 and debit != credit for debit, credit, _m, _t, smallest in journal_account_totals()):
        return
    bad = JournalEntry.objects.filter(Q(amount__lte=0) | Q(debit_account=F("credit_account")))
    for entry in bad.values("pk", "amount", "debit_account")[:100]:
        yield f"entry {entry['pk']}: amount {entry['amount']} on {entry['debit_account']}"


@register
def journal_balances() -> Iterator[str]:
    """All accounts sum to zero."""
    total = sum(journal_account_balances().values())
    if total:
        yield f"the accounts sum to {total}, not 0"


@register
def payments_posted_once() -> Iterator[str]:
    """A payment that succeeded (or was received for nothing) is in the journal for
    exactly its amount, any other for nothing (a platform coupon's legs are not money
    received: they come from ``platform:promotions``)."""
    entries = JournalEntry.objects.filter(
        payment__isnull=False, kind__in=[JournalEntry.Kind.PAYMENT, JournalEntry.Kind.UNAPPLIED]
    ).exclude(debit_account__in=[PLATFORM_PROMOTIONS, POINTS_LIABILITY])
    expected = Case(
        When(status__in=[Payment.Status.SUCCEEDED, Payment.Status.UNAPPLIED], then=F("amount")),
        default=Value(0),
        output_field=BigIntegerField(),
    )
    yield from _posted_not_expected(
        Payment.objects, entries=entries, key="payment_id", expected=expected, number="payment_no"
    )


@register
def refunds_posted_once() -> Iterator[str]:
    """A refund that succeeded is in the journal exactly for its amount; others not at all
    (the discount it takes back to ``platform:promotions`` is not money paid out)."""
    entries = JournalEntry.objects.filter(refund__isnull=False, kind=JournalEntry.Kind.REFUND).exclude(
        credit_account__in=[PLATFORM_PROMOTIONS, POINTS_LIABILITY]
    )
    expected = Case(
        When(status=Refund.Status.SUCCEEDED, then=F("amount")),
        default=Value(0),
        output_field=BigIntegerField(),
    )
    yield from _posted_not_expected(
        Refund.objects, entries=entries, key="refund_id", expected=expected, number="refund_no"
    )


@register
def refund_bookkeeping() -> Iterator[str]:
    """What payments and orders say was refunded (or is in flight) is what their
    refunds say, and never more than was paid."""
    succeeded = Coalesce(Sum("refunds__amount", filter=Q(refunds__status=Refund.Status.SUCCEEDED)), Value(0))
    in_flight = Coalesce(
        Sum("refunds__amount", filter=Q(refunds__status__in=Refund.IN_FLIGHT_STATUSES)), Value(0)
    )
    # One pass over the payments: those that claim a refund or have one (a few percent)
    # are joined to their refunds; a payment without refunds must claim none.
    claimed = Q(refunded_amount__gt=0) | Q(refund_reserved__gt=0)
    bad = (
        Payment.objects.filter(claimed | Q(pk__in=Refund.objects.values("payment_id")))
        .annotate(succeeded=succeeded, in_flight=in_flight)
        .filter(
            ~Q(refunded_amount=F("succeeded"))
            | ~Q(refund_reserved=F("in_flight"))
            | Q(amount__lt=F("refunded_amount") + F("refund_reserved"))
        )
        .order_by()
        .values("payment_no", "refunded_amount", "refund_reserved", "succeeded", "in_flight")
    )
    for row in bad[:100]:
        yield (
            f"payment {row['payment_no']}: refunded {row['refunded_amount']} / in flight "
            f"{row['refund_reserved']}, its refunds say {row['succeeded']} / {row['in_flight']}"
        )
    paid_refunded = Subquery(
        Payment.objects.filter(order=OuterRef("pk"), status=Payment.Status.SUCCEEDED).values(
            "refunded_amount"
        )
    )
    orders = (
        Order.objects.filter(Q(refunded_amount__gt=0) | Q(status__in=[Order.Status.REFUNDED]))
        .annotate(paid_refunded=paid_refunded)
        .order_by()
        .values_list("order_no", "status", "refunded_amount", "total", "completed_at", "paid_refunded")
    )
    for order_no, status, refunded_amount, total, completed_at, payment_refunded in orders.iterator():
        if payment_refunded is None or refunded_amount != payment_refunded:
            yield f"order {order_no}: refunded {refunded_amount}, payment {payment_refunded}"
            continue
        full = refunded_amount == total
        allowed = {Order.Status.REFUNDED if full else Order.Status.PARTIALLY_REFUNDED}
        if not full and completed_at is not None:
            allowed.add(Order.Status.COMPLETED)  # partly refunded in its window, then settled
        if status not in allowed:
            yield f"order {order_no} is {status} with {refunded_amount} refunded"


@register
def reversals_within_postings() -> Iterator[str]:
    """No refund took back from an account more than its payment's posting gave it
    (an applied payment's, or an unapplied one's: the unapplied receipts)."""
    # Summed in the database by payment and account (a merchant's accounts as one: a
    # refund after settlement is charged to available what pending was given), only the
    # breaches coming back: 140,000 (payment, account) rows at 35,000 refunded payments
    # were summed in Python.
    postings = [JournalEntry.Kind.PAYMENT, JournalEntry.Kind.UNAPPLIED]
    posting = Q(kind__in=postings)
    account = Case(When(posting, then=F("credit_account")), default=F("debit_account"))
    merchant = Q(posting, credit_account__startswith="merchant:") | Q(
        ~posting, debit_account__startswith="merchant:"
    )
    role = Case(When(merchant, then=Value("merchant")), default=account, output_field=CharField())
    signed = Case(When(posting, then=F("amount")), default=-F("amount"), output_field=BigIntegerField())
    rows = (
        JournalEntry.objects.filter(
            payment__refunded_amount__gt=0, kind__in=[*postings, JournalEntry.Kind.REFUND]
        )
        .order_by()
        .annotate(role=role)
        .values("payment_id", "role")
        .annotate(net=Sum(signed))
        .filter(net__lt=0)
        .values_list("payment_id", "role", "net")
    )
    for payment_id, account_role, amount in rows[:100]:
        yield f"payment {payment_id}: refunds took {-amount} more from {account_role} than it was given"


@register
def clearing_matches_gateways() -> Iterator[str]:
    """Each channel's clearing account holds what its payments brought in, less the
    refunds and the gateway fees paid out of it."""
    received: dict[str, int] = {}
    rows = (
        Payment.objects.filter(status__in=[Payment.Status.SUCCEEDED, Payment.Status.UNAPPLIED])
        .values("channel")
        .annotate(paid=Sum("amount"), refunded=Sum("refunded_amount"))
    )
    for row in rows:
        received[row["channel"]] = row["paid"] - row["refunded"]
    fees = JournalEntry.objects.filter(kind=JournalEntry.Kind.FEE)
    for row in fees.values("payment__channel", "credit_account").annotate(total=Sum("amount")):
        sign = 1 if row["credit_account"].startswith("gateway_clearing:") else -1
        channel = row["payment__channel"]
        received[channel] = received.get(channel, 0) - sign * row["total"]
    balances = journal_account_balances()
    channels = set(received) | {a.split(":", 1)[1] for a in balances if a.startswith("gateway_clearing:")}
    for channel in sorted(channels):
        held = balances.get(gateway_clearing(channel), 0)
        expected = received.get(channel, 0)
        if held != expected:
            yield f"clearing:{channel} holds {held}; payments less refunds and fees say {expected}"


@register
def settled_orders_left_nothing_pending() -> Iterator[str]:
    """A completed order has nothing left pending, and only completed orders were
    settled (each once: the database refuses a second settlement reference)."""
    # One grouped pass over the orders' entries that touch a pending account or settle
    # (in order id order, from its index: no sort, no hash of 950,000 groups), merged
    # once with the orders: a correlated sum per order took 10-17 s at 870,000 completed
    # orders, a hashed pass that spilled to disk 10-13 s, a settlement's order looked up
    # entry by entry 2.6 s more.
    zero = Value(0, output_field=BigIntegerField())
    settlement = Q(kind=JournalEntry.Kind.SETTLEMENT)
    # A move between two pending accounts (a referred order's commission, from the
    # merchant's pending to its promoter's) leaves the order's pending total as it was.
    pending = Sum(
        Case(
            When(credit_account__endswith=":pending", debit_account__endswith=":pending", then=zero),
            When(credit_account__endswith=":pending", then=F("amount")),
            When(debit_account__endswith=":pending", then=-F("amount")),
            default=zero,
            output_field=BigIntegerField(),
        )
    )
    touches_pending = Q(credit_account__endswith=":pending") | Q(debit_account__endswith=":pending")
    per_order = (
        JournalEntry.objects.filter(touches_pending | settlement, order__isnull=False)
        .order_by()
        .values("order_id")
        .annotate(pending=pending, settlements=Count("pk", filter=settlement))
        .values("order_id", "pending", "settlements")
    )
    per_order_sql, params = per_order.query.sql_with_params()
    q = connection.ops.quote_name
    sql = (
        f"SELECT o.{q('order_no')}, o.{q('completed_at')} IS NOT NULL, j.{q('pending')}, "  # noqa: S608
        f"j.{q('settlements')} FROM ({per_order_sql}) j "
        f"JOIN {q(Order._meta.db_table)} o ON o.{q('id')} = j.{q('order_id')} "
        f"WHERE (o.{q('completed_at')} IS NOT NULL AND j.{q('pending')} <> 0) "
        f"OR (o.{q('completed_at')} IS NULL AND j.{q('settlements')} > 0) LIMIT 200"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        bad = cursor.fetchall()
    for order_no, completed, amount, settlements in bad:
        if completed:
            yield f"order {order_no} is completed with {amount} still pending"
        else:
            yield f"{settlements} settlement entries settled order {order_no}, which is not completed"
    # (the index on the entries' order finds those of no order at once)
    for pk in JournalEntry.objects.filter(settlement, order__isnull=True).values_list("pk", flat=True)[:100]:
        yield f"entry {pk} settled no order"


@register
def promotions_match_redemptions() -> Iterator[str]:
    """Coupons on the books: each order's discount is its coupon's redemption (reserved
    while unpaid, consumed or returned once paid, none when it closed unpaid), with the
    platform's share on the order; what refunds took back follows the proportional rule;
    and ``platform:promotions`` holds, order by order, the platform-funded discounts of
    paid orders less what refunds took back."""
    live = [Redemption.Status.RESERVED, Redemption.Status.CONSUMED, Redemption.Status.RETURNED]
    in_books = [Redemption.Status.CONSUMED, Redemption.Status.RETURNED]
    zero = Value(0, output_field=BigIntegerField())
    kept = Coalesce(Sum("redemptions__amount", filter=Q(redemptions__status__in=live)), zero)
    platform = Coalesce(
        Sum(
            "redemptions__amount",
            filter=Q(redemptions__status__in=live, redemptions__funded_by=Coupon.Funding.PLATFORM),
        ),
        zero,
    )
    expected = Case(
        When(status__in=Order.CLOSED_STATUSES, then=Value(0)),
        default=F("discount"),
        output_field=BigIntegerField(),
    )
    bad = (
        Order.objects.filter(Q(discount__gt=0) | Q(redemptions__isnull=False))
        .annotate(kept=kept, platform=platform, expected=expected)
        .filter(
            ~Q(kept=F("expected"))
            | ~Q(platform_discount=F("platform")) & ~Q(status__in=Order.CLOSED_STATUSES)
        )
        .values("order_no", "status", "discount", "platform_discount", "kept", "platform")
    )
    for row in bad[:100]:
        yield (
            f"order {row['order_no']} ({row['status']}): discount {row['discount']} "
            f"(platform {row['platform_discount']}), its redemptions say {row['kept']} "
            f"(platform {row['platform']})"
        )
    two = Value(2, output_field=BigIntegerField())
    reversed_rule = ExpressionWrapper(
        (two * F("amount") * F("order__refunded_amount") + F("order__total")) / (two * F("order__total")),
        output_field=BigIntegerField(),
    )
    wrong = (
        Redemption.objects.filter(status__in=in_books)
        .annotate(rule=reversed_rule)
        .exclude(reversed_amount=F("rule"))
        .values("pk", "reversed_amount", "rule")
    )
    for row in wrong[:100]:
        yield f"redemption {row['pk']}: refunds took {row['reversed_amount']}, rule: {row['rule']}"
    owed = dict(
        Redemption.objects.filter(status__in=in_books, funded_by=Coupon.Funding.PLATFORM)
        .values_list("order_id")
        .annotate(net=Sum(F("amount") - F("reversed_amount")))
    )
    entries = JournalEntry.objects.filter(
        Q(debit_account=PLATFORM_PROMOTIONS) | Q(credit_account=PLATFORM_PROMOTIONS)
    )
    posted: dict[int, int] = {}
    for row in entries.values("order_id", "debit_account").annotate(total=Sum("amount")):
        sign = 1 if row["debit_account"] == PLATFORM_PROMOTIONS else -1
        posted[row["order_id"]] = posted.get(row["order_id"], 0) + sign * row["total"]
    for order_id in sorted(set(owed) | set(posted)):
        if owed.get(order_id, 0) != posted.get(order_id, 0):
            yield (
                f"order {order_id}: platform:promotions holds {posted.get(order_id, 0)}, "
                f"its platform coupon says {owed.get(order_id, 0)}"
            )
    balance = journal_account_balances().get(PLATFORM_PROMOTIONS, 0)
    if balance != sum(owed.values()):
        owed_total = sum(owed.values())
        yield f"platform:promotions holds {balance}; platform coupons less refunds say {owed_total}"


@register
def points_match_liability() -> Iterator[str]:
    """Points on the books: each lot's ``remaining`` is the sum of its history; an order's
    points are reserved (spent entries) while it is unpaid, given back when it closed;
    and ``platform:points_liability`` holds the value of every lot's ``remaining`` (debts
    negative) plus the points unpaid orders reserve, while each paid order's points legs
    less what its refunds took back are its points less those returned."""
    history = Coalesce(Sum("entries__points"), Value(0, output_field=BigIntegerField()))
    for row in (
        PointsLot.objects.annotate(history=history)
        .exclude(remaining=F("history"))
        .values("pk", "remaining", "history")[:100]
    ):
        yield f"points lot {row['pk']}: remaining {row['remaining']}, its history says {row['history']}"
    held = PointsLot.objects.aggregate(total=Sum("remaining"))["total"] or 0
    reserved = (
        Order.objects.filter(status__in=Order.OPEN_STATUSES).aggregate(total=Sum("points_discount"))["total"]
        or 0
    )
    owed = -journal_account_balances().get(POINTS_LIABILITY, 0)
    if owed != points_value(held) + reserved:
        yield (
            f"platform:points_liability owes {owed}; points held are worth {points_value(held)} "
            f"and unpaid orders reserve {reserved}"
        )
    spent = Coalesce(
        Sum(
            "points_entries__points",
            filter=Q(points_entries__kind__in=[PointsEntry.Kind.SPENT, PointsEntry.Kind.RELEASED]),
        ),
        Value(0, output_field=BigIntegerField()),
    )
    expected = Case(
        When(status__in=Order.CLOSED_STATUSES, then=Value(0)),
        default=-F("points_used"),
        output_field=BigIntegerField(),
    )
    bad = (
        Order.objects.filter(
            Q(points_used__gt=0)
            | Q(pk__in=PointsEntry.objects.filter(kind=PointsEntry.Kind.SPENT).values("order_id"))
        )
        .annotate(spent=spent, expected=expected)
        .exclude(spent=F("expected"))
        .values("order_no", "status", "points_used", "spent")
    )
    for row in bad[:100]:
        yield (
            f"order {row['order_no']} ({row['status']}): {row['points_used']} points, "
            f"its lots gave {-row['spent']}"
        )
    returned = dict(
        PointsEntry.objects.filter(kind=PointsEntry.Kind.RETURNED, points__gt=0)
        .values_list("order_id")
        .annotate(total=Sum("points"))
    )
    legs: dict[int, int] = {}
    spent_legs = JournalEntry.objects.filter(
        Q(debit_account=POINTS_LIABILITY) | Q(credit_account=POINTS_LIABILITY),
        kind__in=[JournalEntry.Kind.PAYMENT, JournalEntry.Kind.REFUND],
    )
    for row in spent_legs.values("order_id", "debit_account").annotate(total=Sum("amount")):
        sign = 1 if row["debit_account"] == POINTS_LIABILITY else -1
        legs[row["order_id"]] = legs.get(row["order_id"], 0) + sign * row["total"]
    paid_orders = Order.objects.filter(points_used__gt=0, paid_at__isnull=False)
    for order in paid_orders.only(
        "pk", "order_no", "points_used", "points_discount", "refunded_amount", "total"
    ).iterator():
        rule = points_returned(
            points_used=order.points_used, refunded=order.refunded_amount, paid=order.total
        )
        if returned.get(order.pk, 0) != rule:
            yield f"order {order.order_no}: {returned.get(order.pk, 0)} points returned, rule: {rule}"
        per_point = order.points_discount // order.points_used
        expected = order.points_discount - rule * per_point
        if legs.pop(order.pk, 0) != expected:
            yield f"order {order.order_no}: its points legs in the journal are not {expected} fen"
    for order_id, amount in legs.items():
        if amount:
            yield f"order {order_id}: {amount} fen of points legs, but no points paid for it"
