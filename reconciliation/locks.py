"""Row locks of reconciliation, in the project's lock order (README, "Lock order"):
merchant → payment with its order → order alone → refunds → payout → difference.

Runs are locked alone (nothing else is held meanwhile); several rows are locked in
primary-key order, so two callers never wait on each other in opposite order.
"""

from django.db.models import QuerySet

from .models import Difference, ReconciliationRun


def difference_lock(*, difference_id: int) -> Difference:
    return Difference.objects.select_for_update().get(pk=difference_id)


def differences_lock(differences: QuerySet[Difference]) -> list[Difference]:
    """Lock the differences of ``differences`` (a run closing or re-opening them)."""
    return list(differences.select_for_update().order_by("pk"))


def runs_lock(runs: QuerySet[ReconciliationRun]) -> list[ReconciliationRun]:
    """Lock the runs of ``runs`` (a new run failing the abandoned ones of its bill)."""
    return list(runs.select_for_update().order_by("pk"))
