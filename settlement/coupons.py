"""Merchant coupons on statements (商家优惠): what a merchant's own coupons took off its
orders, by the day the journal booked the payment or the refund.

A merchant-funded coupon moves no money: the learner pays less, the merchant's share
and the commission are both taken from what was paid (README, "Coupons"), so the
journal has no line for it and the statement's gross sales and net are already after
the discount. The discount itself lives in the order's redemption (its ``amount``,
and ``reversed_amount``, what refunds took back). This module puts it on the
statement beside the journal's figures, on the journal's days, so that a statement reads

    sales at list price, net of refunds = gross sales − refunds + merchant coupons

whoever funded the coupon (a platform coupon is inside gross sales and refunds: the
platform pays it and takes its share back).

A discount counts on the local day its order's payment was posted and is taken back,
refund by refund, on the day each refund was posted, by the proportional rule
(:func:`promotions.services.discount_reversed`, cumulative): summed over all days,
a merchant's figures equal ``amount − reversed_amount`` of its redemptions
(``settlement.checks.statements_merchant_coupons``).
"""

from collections import defaultdict
from datetime import date, timedelta

from django.db.models import Min, Q
from django.utils import timezone

from payments.models import JournalEntry
from promotions.models import Coupon, Redemption
from promotions.services import discount_reversed

from .selectors import day_start

IN_BOOKS = (Redemption.Status.CONSUMED, Redemption.Status.RETURNED)


def merchant_redemptions(merchant_ids=None):
    """Redemptions of merchant-funded coupons on paid orders."""
    redemptions = Redemption.objects.filter(funded_by=Coupon.Funding.MERCHANT, status__in=IN_BOOKS)
    if merchant_ids is not None:
        redemptions = redemptions.filter(merchant_id__in=list(merchant_ids))
    return redemptions.order_by()


def merchant_coupon_days(
    *, merchant_ids=None, first_day: date | None = None, last_day: date | None = None
) -> dict[tuple[int, date], int]:
    """``{(merchant_id, local day): fen}``: the discounts of merchant-funded coupons on
    orders whose payment was posted that day, less what the refunds posted that day took
    back. Days without either are left out. Three queries, whatever the period."""
    within = Q()
    if first_day is not None:
        within &= Q(created_at__gte=day_start(first_day))
    if last_day is not None:
        within &= Q(created_at__lt=day_start(last_day + timedelta(days=1)))
    redemptions = merchant_redemptions(merchant_ids)
    entries = JournalEntry.objects.filter(merchant__isnull=False).order_by()
    days: dict[tuple[int, date], int] = defaultdict(int)

    paid = (
        entries.filter(within, kind=JournalEntry.Kind.PAYMENT, order_id__in=redemptions.values("order_id"))
        .values_list("order_id")
        .annotate(at=Min("created_at"))
    )
    paid_at = dict(paid)
    # Orders refunded in the period; each one's earlier refunds too, to cumulate.
    refunded = entries.filter(
        within, kind=JournalEntry.Kind.REFUND, order_id__in=redemptions.values("order_id")
    ).values("order_id")
    refunds = (
        entries.filter(kind=JournalEntry.Kind.REFUND, refund__isnull=False, order_id__in=refunded)
        .values_list("order_id", "refund_id", "refund__amount")
        .annotate(first=Min("pk"), at=Min("created_at"))
        .order_by("first")
    )
    refunds = list(refunds)
    wanted = set(paid_at) | {row[0] for row in refunds}
    if not wanted:
        return {}
    discounts = {
        order_id: (merchant_id, amount, total)
        for order_id, merchant_id, amount, total in redemptions.filter(order_id__in=wanted).values_list(
            "order_id", "merchant_id", "amount", "order__total"
        )
    }

    def local(at) -> date:
        return timezone.localtime(at).date()

    for order_id, at in paid_at.items():
        merchant_id, amount, _total = discounts[order_id]
        days[(merchant_id, local(at))] += amount
    start = day_start(first_day) if first_day is not None else None
    end = day_start(last_day + timedelta(days=1)) if last_day is not None else None
    refunded_so_far: dict[int, int] = defaultdict(int)
    for order_id, _refund_id, refund_amount, _first, at in refunds:
        merchant_id, amount, total = discounts[order_id]
        before = refunded_so_far[order_id]
        refunded_so_far[order_id] = after = before + refund_amount
        taken = discount_reversed(discount=amount, refunded=after, paid=total) - discount_reversed(
            discount=amount, refunded=before, paid=total
        )
        if (start is None or at >= start) and (end is None or at < end):
            days[(merchant_id, local(at))] -= taken
    return {key: fen for key, fen in days.items() if fen}


def merchant_coupon_figures(*, period_start: date, period_end: date, merchant_ids=None) -> dict[int, int]:
    """``{merchant_id: fen}``: the statement figure ``merchant_coupons`` of the period
    (local dates, inclusive) for each merchant that has one."""
    figures: dict[int, int] = defaultdict(int)
    days = merchant_coupon_days(merchant_ids=merchant_ids, first_day=period_start, last_day=period_end)
    for (merchant_id, _day), fen in days.items():
        figures[merchant_id] += fen
    return dict(figures)
