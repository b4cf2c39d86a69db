"""Reads for settlement: a merchant's figures summed from the journal, payouts.

Every figure of a statement, the dashboard and the ledger checks comes from one set of
*components* (:data:`COMPONENTS`): conditional sums over journal entries that carry a
merchant, all additive over time. A merchant's entries touch only its own ``merchant:``
accounts (``ledger_check.accounts_well_formed``) besides the platform's, gateways' and its
promoters' (``promoter:<p>:…``, carried on the merchant's entries too), so the
components name the ``merchant:`` side explicitly, and one grouped query sums any number
of merchants, days or periods.
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import partial

from django.db.models import BigIntegerField, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone

from core.prepared_values import PreparedValues
from courses.models import Merchant
from memberships import selectors as membership_selectors
from payments import ledger
from payments.models import JournalEntry, JournalSummary

from .models import MerchantDay, Payout

Kind = JournalEntry.Kind
_MERCHANT = "merchant:"
_AVAILABLE = ":available"


def _merchant_side(side: str, suffix: str = "") -> Q:
    """The entry's ``side`` (debit_account or credit_account) is one of the merchant's
    accounts (ending in ``suffix``): not a promoter's, whose entries carry the merchant."""
    q = Q(**{f"{side}__startswith": _MERCHANT})
    return q & Q(**{f"{side}__endswith": suffix}) if suffix else q


# name -> filter; each is SUM(amount) over the entries matching it, except the counts.
COMPONENTS: dict[str, Q] = {
    "payments": Q(kind=Kind.PAYMENT),
    "payment_commission": Q(kind=Kind.PAYMENT, credit_account=ledger.PLATFORM_COMMISSION),
    "refunds": Q(kind=Kind.REFUND),
    "refund_commission": Q(kind=Kind.REFUND, debit_account=ledger.PLATFORM_COMMISSION),
    "fees_charged": Q(kind=Kind.FEE) & _merchant_side("debit_account"),
    "fees_returned": Q(kind=Kind.FEE) & _merchant_side("credit_account"),
    "platform_coupons_paid": Q(kind=Kind.PAYMENT, debit_account=ledger.PLATFORM_PROMOTIONS),
    "platform_coupons_refunded": Q(kind=Kind.REFUND, credit_account=ledger.PLATFORM_PROMOTIONS),
    "points_paid": Q(kind=Kind.PAYMENT, debit_account=ledger.POINTS_LIABILITY),
    "points_refunded": Q(kind=Kind.REFUND, credit_account=ledger.POINTS_LIABILITY),
    # A referred order's promoter commission, out of the merchant's share (pending), and
    # what refunds gave back of it (to pending, or to available once the order settled).
    "promoter_commission": Q(kind=Kind.PROMOTER) & _merchant_side("debit_account"),
    "promoter_returned": Q(kind=Kind.PROMOTER) & _merchant_side("credit_account"),
    "promoter_returned_available": Q(kind=Kind.PROMOTER) & _merchant_side("credit_account", _AVAILABLE),
    "settled_in": Q(kind=Kind.SETTLEMENT) & _merchant_side("credit_account", _AVAILABLE),
    "settled_out": Q(kind=Kind.SETTLEMENT) & _merchant_side("debit_account", _AVAILABLE),
    "charged_available": Q(kind__in=[Kind.REFUND, Kind.FEE]) & _merchant_side("debit_account", _AVAILABLE),
    "fees_returned_available": Q(kind=Kind.FEE) & _merchant_side("credit_account", _AVAILABLE),
    # A promoter's payouts (payee ``promoter:<p>``) carry the merchant too: not its own.
    "payouts_requested": Q(kind=Kind.PAYOUT) & _merchant_side("debit_account"),
    "payouts_returned": Q(kind=Kind.PAYOUT_RETURNED) & _merchant_side("credit_account"),
    "payouts_paid": Q(kind=Kind.PAYOUT_PAID) & _merchant_side("credit_account"),
    "available_in": _merchant_side("credit_account", _AVAILABLE),
    "available_out": _merchant_side("debit_account", _AVAILABLE),
}
COUNTS: dict[str, tuple[str, Q]] = {
    "order_count": ("order", Q(kind=Kind.PAYMENT)),
    "refund_count": ("refund", Q(kind=Kind.REFUND)),
}
ZERO = dict.fromkeys([*COMPONENTS, *COUNTS], 0)


def component_aggregates(within: Q | None = None, names=None) -> dict:
    """The aggregate expressions of every component (or of those ``names``), each
    limited to ``within``."""
    within = within or Q()
    aggregates = {name: Sum("amount", filter=q & within) for name, q in COMPONENTS.items()}
    for name, (field, q) in COUNTS.items():
        aggregates[name] = Count(field, filter=q & within, distinct=True)
    return aggregates if names is None else {name: aggregates[name] for name in names}


def components_of(row: dict) -> dict[str, int]:
    return {name: row.get(name) or 0 for name in ZERO}


def add_components(into: dict[str, int], other: dict[str, int], sign: int = 1) -> dict[str, int]:
    for name in ZERO:
        into[name] += sign * other[name]
    return into


def figures_from(components: dict[str, int], *, opening_available: int = 0) -> dict[str, int]:
    """A statement's figures from the components of its period and its opening balance."""
    c = components
    gross = c["payments"]
    refunds = c["refunds"]
    commission = c["payment_commission"] - c["refund_commission"]
    promoter = c["promoter_commission"] - c["promoter_returned"]
    fees = c["fees_charged"] - c["fees_returned"]
    return {
        "gross_sales": gross,
        "refunds": refunds,
        "commission": commission,
        "promoter_commission": promoter,
        "gateway_fees": fees,
        "net": gross - refunds - commission - promoter - fees,
        "platform_coupons": c["platform_coupons_paid"] - c["platform_coupons_refunded"],
        "points_redeemed": c["points_paid"] - c["points_refunded"],
        "settled": c["settled_in"] - c["settled_out"],
        # So that opening + settled - charge-backs - payouts requested + returned = closing.
        "charge_backs": (
            c["charged_available"] - c["fees_returned_available"] - c["promoter_returned_available"]
        ),
        "payouts_requested": c["payouts_requested"],
        "payouts_returned": c["payouts_returned"],
        "payouts_paid": c["payouts_paid"],
        "opening_available": opening_available,
        "closing_available": opening_available + c["available_in"] - c["available_out"],
        "order_count": c["order_count"],
        "refund_count": c["refund_count"],
    }


# -- periods ----------------------------------------------------------------------------
def day_start(day: date) -> datetime:
    """The first instant of a local day (TIME_ZONE, Asia/Shanghai)."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def period_bounds(period_start: date, period_end: date) -> tuple[datetime, datetime]:
    """``[start, end)`` instants of the local dates ``period_start`` to ``period_end`` inclusive."""
    return day_start(period_start), day_start(period_end + timedelta(days=1))


def local_day():
    """Journal entries' local date, for grouping by day."""
    return TruncDate("created_at", tzinfo=timezone.get_default_timezone())


def merchant_entries(merchant_ids=None) -> QuerySet[JournalEntry]:
    entries = JournalEntry.objects.filter(merchant__isnull=False)
    if merchant_ids is not None:
        entries = entries.filter(merchant_id__in=list(merchant_ids))
    return entries.order_by()


def statement_figures(*, period_start: date, period_end: date, merchant_ids=None) -> dict[int, dict]:
    """``{merchant_id: figures}`` for every merchant with journal entries in the period,
    opening balance included: one grouped query, however many merchants and entries."""
    start, end = period_bounds(period_start, period_end)
    in_period = Q(created_at__gte=start)
    before = Q(created_at__lt=start)
    rows = (
        merchant_entries(merchant_ids)
        .filter(created_at__lt=end)
        .values("merchant_id")
        .annotate(
            activity=Count("pk", filter=in_period),
            opening_in=Sum("amount", filter=before & COMPONENTS["available_in"]),
            opening_out=Sum("amount", filter=before & COMPONENTS["available_out"]),
            **component_aggregates(in_period),
        )
    )
    result = {}
    for row in rows:
        if not row["activity"]:
            continue
        opening = (row["opening_in"] or 0) - (row["opening_out"] or 0)
        result[row["merchant_id"]] = figures_from(components_of(row), opening_available=opening)
    return result


def daily_components(*, merchant_ids=None, since: date | None = None, until: date | None = None):
    """``{(merchant_id, local date): components}`` over the journal (one grouped query).
    With ``merchant_ids=[]`` nothing is read."""
    entries = merchant_entries(merchant_ids)
    if since is not None:
        entries = entries.filter(created_at__gte=day_start(since))
    if until is not None:
        entries = entries.filter(created_at__lt=day_start(until + timedelta(days=1)))
    return components_by_merchant_day(entries)


def components_by_merchant_day(entries: QuerySet[JournalEntry]) -> dict[tuple[int, date], dict[str, int]]:
    """``{(merchant_id, local date): components}`` of ``entries`` that carry a merchant."""
    return {(row["merchant_id"], row["day"]): components_of(row) for row in _by_merchant_day(entries)}


def _by_merchant_day(entries: QuerySet[JournalEntry], names=None) -> QuerySet:
    """The components (or those ``names``) of ``entries`` that carry a merchant, grouped
    by merchant and local day (a ``values()`` queryset)."""
    entries = entries.filter(merchant__isnull=False).order_by()
    aggregates = component_aggregates(names=names)
    return entries.annotate(day=local_day()).values("merchant_id", "day").annotate(**aggregates)


def summarised_days(
    *,
    first_day: date,
    last_day: date,
    merchant_id: int | None = None,
    membership: bool = False,
    names: tuple[str, ...] | None = None,
) -> dict[date, dict[str, int]]:
    """``{local day: components}`` from ``first_day`` to ``last_day`` (days with entries
    only), of every merchant or one, of all entries or of membership orders' only (only
    the components ``names``, the others 0, when given: each summed component of 1,500
    summarised days costs the database about a millisecond): the
    summarised days (``settlement.summaries``) summed by day in the database, and the
    entries after the checkpoint (one grouped query over a range of the primary key).

    Both statements are compiled once per shape (:class:`core.prepared_values.PreparedValues`:
    the same SQL as their querysets, :func:`_summary_by_day` and :func:`_entries_after`);
    building and compiling their 26 aggregates on every request was most of the finance
    dashboard's CPU, and summing 1,500 days' JSON components in Python (30 days of 50
    merchants) the rest of this function's."""
    shape = (merchant_id is not None, membership, names)
    key = (*shape, timezone.get_default_timezone_name())  # local days: the SQL names the zone
    if key not in _SUMMARISED:
        _SUMMARISED[key] = _prepare_summarised(*shape)
    summary, after = _SUMMARISED[key]
    params = {"first_day": first_day, "last_day": last_day}
    if merchant_id is not None:
        params["merchant_id"] = merchant_id
    # The checkpoint comes in the same statement as the rows (one snapshot); with no
    # rows, it is read on its own and the rows asked again, as
    # ``payments.ledger.summaries.summarised_rows`` does (rows are only ever added).
    rows = summary.rows(**params)
    if rows:
        through = rows[0]["summary__through_entry"]
    else:
        checkpoint = _CHECKPOINT.rows()
        through = checkpoint[0]["through_entry"] if checkpoint else 0
        rows = summary.rows(**params)
        through = rows[0]["summary__through_entry"] if rows else through
    by_day = {row["day"]: components_of(row) for row in rows}
    params |= {
        "through": through,
        "start": day_start(first_day),
        "end": day_start(last_day + timedelta(days=1)),
    }
    del params["first_day"], params["last_day"]
    for row in after.rows(**params):
        add_components(by_day.setdefault(row["day"], dict(ZERO)), components_of(row))
    return by_day


def _summary_by_day(*, first_day, last_day, merchant_id=None, membership=False, names=None) -> QuerySet:
    """The summarised days' components summed by day (and the summary's checkpoint)."""
    rows = MerchantDay.objects.filter(day__gte=first_day, day__lte=last_day, membership=membership)
    if merchant_id is not None:
        rows = rows.filter(merchant_id=merchant_id)
    sums = {
        name: Sum(Cast(KeyTextTransform(name, "components"), BigIntegerField())) for name in names or ZERO
    }
    return rows.order_by().values("day", "summary__through_entry").annotate(**sums)


def _entries_after(*, through, start, end, merchant_id=None, membership=False, names=None) -> QuerySet:
    """The components of the entries after the checkpoint, by merchant and local day."""
    entries = merchant_entries(None if merchant_id is None else [merchant_id]).filter(
        pk__gt=through, created_at__gte=start, created_at__lt=end
    )
    if membership:
        entries = entries.filter(membership_selectors.membership_orders_q("order__"))
    return _by_merchant_day(entries, names)


def _prepare_summarised(
    one_merchant: bool, membership: bool, names: tuple[str, ...] | None
) -> tuple[PreparedValues, PreparedValues]:
    # Stand-ins: days and instants of 1900 and negative ids, which no real call passes.
    merchant = {"merchant_id": -1} if one_merchant else {}
    summary = PreparedValues(
        partial(_summary_by_day, membership=membership, names=names),
        first_day=date(1900, 1, 1),
        last_day=date(1900, 1, 2),
        **merchant,
    )
    after = PreparedValues(
        partial(_entries_after, membership=membership, names=names),
        through=-7,
        start=datetime(1900, 1, 1, tzinfo=UTC),
        end=datetime(1900, 1, 2, tzinfo=UTC),
        **merchant,
    )
    return summary, after


_SUMMARISED: dict[tuple, tuple[PreparedValues, PreparedValues]] = {}
_CHECKPOINT = PreparedValues(
    lambda: JournalSummary.objects.filter(name=MerchantDay.SUMMARY).order_by().values("through_entry")
)


def dashboard_days(
    *, first_day: date, last_day: date, merchant_id: int | None = None, figures: tuple[str, ...] | None = None
) -> list[dict]:
    """Each local day from ``first_day`` to ``last_day``: paid (gross sales), refunds,
    commission (net of reversals), fees and net settled to available
    (:func:`summarised_days`); days without entries are zeros. Every figure of
    :func:`figures_from`, or only ``figures`` (and only their components summed)."""
    names = None if figures is None else tuple(sorted({c for f in figures for c in FIGURE_COMPONENTS[f]}))
    by_day = summarised_days(first_day=first_day, last_day=last_day, merchant_id=merchant_id, names=names)
    empty = figures_from(dict(ZERO))
    result = []
    day = first_day
    while day <= last_day:
        all_figures = figures_from(by_day[day]) if day in by_day else empty
        shown = all_figures if figures is None else {name: all_figures[name] for name in figures}
        result.append({"day": day, **shown})
        day += timedelta(days=1)
    return result


# The components each figure of :func:`figures_from` is made of (those the dashboard
# shows; ``tests/memberships/test_dashboard.py`` checks them against every component).
FIGURE_COMPONENTS: dict[str, tuple[str, ...]] = {
    "gross_sales": ("payments",),
    "refunds": ("refunds",),
    "commission": ("payment_commission", "refund_commission"),
    "promoter_commission": ("promoter_commission", "promoter_returned"),
    "gateway_fees": ("fees_charged", "fees_returned"),
    "net": (
        "payments",
        "refunds",
        "payment_commission",
        "refund_commission",
        "promoter_commission",
        "promoter_returned",
        "fees_charged",
        "fees_returned",
    ),
    "settled": ("settled_in", "settled_out"),
    "order_count": ("order_count",),
}


# -- balances and the dashboard ------------------------------------------------------------
DASHBOARD_TOTALS = (
    "gross_sales",
    "refunds",
    "commission",
    "promoter_commission",
    "gateway_fees",
    "net",
    "settled",
    "order_count",
)


def _merchant_sum(within: Q):
    """SUM(amount) of the outer merchant's entries matching ``within``, 0 for none."""
    entries = (
        JournalEntry.objects.filter(within, merchant=OuterRef("pk"))
        .order_by()
        .values("merchant")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(entries, output_field=IntegerField()), Value(0))


def merchants_by_available_balance(merchants: QuerySet[Merchant], *, in_debt: bool) -> QuerySet[Merchant]:
    """Of ``merchants``, those whose available balance is negative (``in_debt``, 欠款) or
    positive (withdrawable), filtered in the database (a correlated subquery each)."""
    available = _merchant_sum(COMPONENTS["available_in"]) - _merchant_sum(COMPONENTS["available_out"])
    merchants = merchants.alias(available=available)
    return merchants.filter(available__lt=0) if in_debt else merchants.filter(available__gt=0)


def dashboard_merchants() -> list[Merchant]:
    """The merchants platform staff can pick on the dashboard, by name."""
    return list(Merchant.objects.order_by("name").only("pk", "name"))


def dashboard_figures(*, first_day: date, last_day: date, merchant_id: int | None = None) -> dict:
    """The dashboard's figures: ``days`` (:func:`dashboard_days`) and their ``totals``
    (:data:`DASHBOARD_TOTALS`). One grouped query."""
    days = dashboard_days(
        first_day=first_day, last_day=last_day, merchant_id=merchant_id, figures=DASHBOARD_TOTALS
    )
    return {"days": days, "totals": {name: sum(day[name] for day in days) for name in DASHBOARD_TOTALS}}


def platform_promotion_figures() -> dict[str, int]:
    """What promotions cost the platform and what it owes in points, to date, in fen:
    platform coupons (net of refunds), points given less taken back (the points expense)
    and the points liability (what learners' points are worth, reserved ones included;
    negative if debts outweigh them). One grouped query over three accounts."""
    accounts = [ledger.PLATFORM_PROMOTIONS, ledger.POINTS_EXPENSE, ledger.POINTS_LIABILITY]
    entries = JournalEntry.objects.filter(Q(debit_account__in=accounts) | Q(credit_account__in=accounts))
    balances = ledger.account_balances(entries)
    return {
        "coupon_cost": balances.get(ledger.PLATFORM_PROMOTIONS, 0),
        "points_expense": balances.get(ledger.POINTS_EXPENSE, 0),
        "points_liability": -balances.get(ledger.POINTS_LIABILITY, 0),
    }


# -- memberships ----------------------------------------------------------------------------
DASHBOARD_MONTHS = 6


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


# The components of the figures :func:`membership_months` shows.
_MEMBERSHIP_COMPONENTS = ("order_count", "payment_commission", "payments", "refund_commission", "refunds")


def membership_months(
    *, last_day: date, months: int = DASHBOARD_MONTHS, merchant_id: int | None = None, now=None
) -> list[dict]:
    """Memberships, each local month up to the one of ``last_day`` (oldest first): revenue
    from membership orders in the journal (paid, refunds, commission, net of both, by
    when they were booked), members with access at the month's end (now, for the month
    under way) and churn (members with access when it began who had none at its end:
    ``churned``, and ``churn_rate`` in percent of those at its start, None without any).
    Two grouped queries."""
    now = now or timezone.now()
    first = month_start(last_day)
    for _ in range(months - 1):
        first = month_start(first - timedelta(days=1))
    starts = [first]
    while len(starts) < months:
        starts.append(next_month(starts[-1]))
    bounds = [day_start(m) for m in starts] + [day_start(next_month(starts[-1]))]
    by_month = {m: dict(ZERO) for m in starts}
    last = next_month(starts[-1]) - timedelta(days=1)
    days = summarised_days(
        first_day=starts[0],
        last_day=last,
        merchant_id=merchant_id,
        membership=True,
        names=_MEMBERSHIP_COMPONENTS,
    )
    for day, components in days.items():
        add_components(by_month[month_start(day)], components)
    instants = [min(bound, now) for bound in bounds]
    members = membership_selectors.members_at(instants=instants, merchant_id=merchant_id)
    result = []
    for month, counts in zip(starts, members, strict=True):
        figures = figures_from(by_month[month])
        if day_start(month) > now:
            counts = {"active_at_start": 0, "active_at_end": 0, "churned": 0}
        at_start = counts["active_at_start"]
        result.append(
            {
                "month": month,
                "paid": figures["gross_sales"],
                "refunds": figures["refunds"],
                "commission": figures["commission"],
                "net": figures["gross_sales"] - figures["refunds"],
                "orders": figures["order_count"],
                "active_members": counts["active_at_end"],
                "churned": counts["churned"],
                "churn_rate": None if not at_start else round(100 * counts["churned"] / at_start, 1),
            }
        )
    return result


# -- payouts ------------------------------------------------------------------------------
def payout_last_account(*, merchant_id: int) -> Payout | None:
    """The merchant's latest payout, whose bank details prefill the next request."""
    return Payout.objects.filter(merchant_id=merchant_id).exclude(account_number="").first()


def payouts_in_status(*statuses: str, merchant_id: int | None = None) -> QuerySet[Payout]:
    """Payouts in any of ``statuses`` (one merchant's, or everyone's): the finance queues."""
    payouts = Payout.objects.filter(status__in=statuses)
    return payouts if merchant_id is None else payouts.filter(merchant_id=merchant_id)
