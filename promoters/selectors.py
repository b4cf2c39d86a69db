"""Reads for the promoter page, its CSV and the API."""

from collections import defaultdict

from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber

from courses.models import Course
from settlement.models import Payout

from .ledger import promoter_balances
from .models import Click, OrderReferral, Programme, Promoter


def promoters_of(*, user):
    return list(
        Promoter.objects.filter(user=user)
        .select_related("programme", "merchant")
        .prefetch_related("links__course")
    )


def promoter_of(*, user, promoter_id) -> Promoter | None:
    """The user's own promoter row ``promoter_id`` (someone else's, or a number no row
    can have, as the text of a URL may be: None)."""
    try:
        pk = int(promoter_id)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63 or not getattr(user, "is_authenticated", False):
        return None
    return Promoter.objects.select_related("programme", "merchant").filter(pk=pk, user=user).first()


def promoter_stats(*, promoters) -> dict[int, dict]:
    """For each promoter: clicks, referred orders, and commission pending, available
    and paid out (fen). Four queries, however many promoters."""
    ids = [promoter.pk for promoter in promoters]
    clicks = dict(
        Click.objects.filter(link__promoter_id__in=ids)
        .values("link__promoter_id")
        .annotate(n=Count("pk"))
        .values_list("link__promoter_id", "n")
    )
    orders = dict(
        OrderReferral.objects.filter(promoter_id__in=ids, order__paid_at__isnull=False)
        .values("promoter_id")
        .annotate(n=Count("pk"))
        .values_list("promoter_id", "n")
    )
    balances = promoter_balances(ids)
    return {pk: {"clicks": clicks.get(pk, 0), "orders": orders.get(pk, 0), **balances[pk]} for pk in ids}


def referred_orders(*, promoter):
    return OrderReferral.objects.filter(promoter=promoter, order__paid_at__isnull=False).select_related(
        "order"
    )


def payouts_by_promoter(promoters, *, shown: int) -> dict[int, list[Payout]]:
    """Each promoter's latest ``shown`` withdrawals (one query, however many promoters:
    ranked per payee, so one busy programme does not crowd out another's). A read of
    settlement's payouts for the page; the account number stays encrypted and unread."""
    owners = {promoter.account_owner: promoter.pk for promoter in promoters}
    found = defaultdict(list)
    if owners:
        payouts = (
            Payout.objects.filter(merchant_id__in={p.merchant_id for p in promoters}, payee__in=owners)
            .defer("account_number")
            .annotate(
                latest=Window(
                    RowNumber(),
                    partition_by=[F("payee")],
                    order_by=[F("requested_at").desc(), F("pk").desc()],
                )
            )
            .filter(latest__lte=shown)
            .order_by("-requested_at", "-pk")
        )
        for payout in payouts:
            found[owners[payout.payee]].append(payout)
    return found


def courses_by_programme(promoters) -> dict[int, list[Course]]:
    """The published courses of each promoter's programme (one query)."""
    found = defaultdict(list)
    rows = (
        Programme.courses.through.objects.filter(
            programme_id__in={p.programme_id for p in promoters}, course__status=Course.Status.PUBLISHED
        )
        .select_related("course")
        .order_by("course__title", "course_id")
    )
    for row in rows:
        found[row.programme_id].append(row.course)
    return found


def open_programmes(promoters) -> list[Programme]:
    """Programmes a learner may still apply to (one query)."""
    programmes = list(
        Programme.objects.filter(active=True, merchant__is_active=True)
        .exclude(pk__in=[p.programme_id for p in promoters])
        .select_related("merchant")
        .order_by("merchant__name")
    )
    for programme in programmes:
        programme.rate_percent = f"{programme.rate_bp / 100:g}"  # 2000 basis points: 20
    return programmes


def last_payout(promoter) -> Payout | None:
    """The promoter's latest withdrawal (the form offers its account again)."""
    return (
        Payout.objects.filter(merchant_id=promoter.merchant_id, payee=promoter.account_owner)
        .order_by("-requested_at", "-pk")
        .first()
    )
