"""Statements (对账单): each merchant's figures of a period (a day by default), summed
from the journal once the period is over. They are a cache of the journal that the
ledger checks (``settlement.checks``) keep honest.
"""

import logging
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .. import coupons, selectors
from ..exceptions import StatementPeriodInvalid, StatementPeriodOpen, StatementPeriodOverlaps
from ..models import SettlementStatement

logger = logging.getLogger(__name__)

# How long after a day ends its statement waits, so that postings stamped just before
# midnight and committed just after are in it.
STATEMENT_GRACE = timedelta(minutes=10)
# How many past days the periodic run looks at for missing statements (missed runs).
STATEMENT_CATCH_UP_DAYS = 7


def statements_generate(
    *, period_start: date, period_end: date | None = None, merchant_ids=None, now=None, regenerate=False
) -> list[SettlementStatement]:
    """Make the statements of one period (a single local day by default) for every
    merchant with journal entries in it, from the journal. Idempotent: a statement
    that exists is left as it is, unless ``regenerate`` (after a late posting; the
    ledger check reports those) brings its figures back in line with the journal.

    Returns the statements created or changed. Six queries, however many merchants
    (three of them for the merchant coupons, :mod:`settlement.coupons`).
    """
    now = now or timezone.now()
    period_end = period_end or period_start
    if period_end < period_start:
        raise StatementPeriodInvalid()
    _start, end = selectors.period_bounds(period_start, period_end)
    if end > now:
        raise StatementPeriodOpen()
    figures = selectors.statement_figures(
        period_start=period_start, period_end=period_end, merchant_ids=merchant_ids
    )
    if not figures:
        return []
    # Not in the journal (settlement.coupons); a merchant with one has entries in the period.
    merchant_coupons = coupons.merchant_coupon_figures(
        period_start=period_start, period_end=period_end, merchant_ids=list(figures)
    )
    overlapping = SettlementStatement.objects.filter(
        merchant_id__in=list(figures), period_start__lte=period_end, period_end__gte=period_start
    ).exclude(period_start=period_start, period_end=period_end)
    if overlapping.exists():
        raise StatementPeriodOverlaps()
    existing = {
        statement.merchant_id: statement
        for statement in SettlementStatement.objects.filter(
            merchant_id__in=list(figures), period_start=period_start, period_end=period_end
        )
    }
    new = [
        SettlementStatement(
            merchant_id=merchant_id,
            period_start=period_start,
            period_end=period_end,
            generated_at=now,
            merchant_coupons=merchant_coupons.get(merchant_id, 0),
            **merchant_figures,
        )
        for merchant_id, merchant_figures in figures.items()
        if merchant_id not in existing
    ]
    changed = []
    if regenerate:
        for merchant_id, statement in existing.items():
            expected = {**figures[merchant_id], "merchant_coupons": merchant_coupons.get(merchant_id, 0)}
            stored = {**statement.figures(), "merchant_coupons": statement.merchant_coupons}
            if stored != expected:
                logger.warning("statement %s regenerated: %s -> %s", statement, stored, expected)
                for name, value in expected.items():
                    setattr(statement, name, value)
                statement.generated_at = now
                changed.append(statement)
    with transaction.atomic():
        # A concurrent run may have made some meanwhile: the constraint keeps them once.
        created = SettlementStatement.objects.bulk_create(new, ignore_conflicts=True)
        if changed:
            SettlementStatement.objects.bulk_update(
                changed, [*SettlementStatement.FIGURES, "merchant_coupons", "generated_at"]
            )
    return [*created, *changed]


def period_end_for(start: date, period: str) -> date:
    """The last day of the statement period (``day``, ``week`` Monday to Sunday, or
    ``month``) that contains ``start``."""
    if period == "day":
        return start
    if period == "week":
        return start + timedelta(days=6 - start.weekday())
    if period == "month":
        following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return following - timedelta(days=1)
    raise ValueError(f"unknown statement period {period!r}")


def statements_generate_due(
    *, now=None, days: int = STATEMENT_CATCH_UP_DAYS, period: str | None = None
) -> int:
    """The beat task's work: the statements of every period (``KPAY_STATEMENT_PERIOD``:
    a day by default, or a week or a month) that has ended (plus
    ``STATEMENT_GRACE``) since the latest statement, looking back at most ``days``
    days (whole periods) when there is none yet.

    A period's statements are made together (one INSERT), so the periods after the
    latest statement are the ones to do: a run that finds nothing due costs one query.
    A new period starts the day after the latest statement ends, so changing the
    setting never makes statements overlap (the first one after a change is shorter).
    Returns how many statements were made.
    """
    now = now or timezone.now()
    period = period or settings.KPAY_STATEMENT_PERIOD
    last_complete_day = timezone.localtime(now - STATEMENT_GRACE).date() - timedelta(days=1)
    latest = SettlementStatement.objects.aggregate(latest=Max("period_end"))["latest"]
    if latest is not None:
        start = latest + timedelta(days=1)
    else:
        start = _period_start(last_complete_day - timedelta(days=days - 1), period)
    made = 0
    while (end := period_end_for(start, period)) <= last_complete_day:
        made += len(statements_generate(period_start=start, period_end=end, now=now))
        start = end + timedelta(days=1)
    return made


def _period_start(day: date, period: str) -> date:
    """The first day of the statement period that contains ``day``."""
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)
