"""Reads of reconciliation shared by its pages."""

from .models import Difference, ReconciliationRun

PREVIEW_ROWS = 20


def run_differences_preview(run: ReconciliationRun, *, limit: int = PREVIEW_ROWS) -> list[Difference]:
    """The first differences a run found (latest run of each), by kind, for its page."""
    return list(run.differences.select_related("payment").order_by("kind", "pk")[:limit])


def open_differences():
    """Every difference still open (the finance queue)."""
    return Difference.objects.filter(status=Difference.Status.OPEN)
