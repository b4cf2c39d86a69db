"""Reads for the promoter page, its CSV and the API."""

from django.db.models import Count

from .ledger import promoter_balances
from .models import Click, OrderReferral, Promoter


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
