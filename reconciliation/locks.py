"""Row locks on differences, in the project's lock order (README, "Lock order"):
merchant → payment with its order → order alone → refunds → payout → difference."""

from .models import Difference


def difference_lock(*, difference_id: int) -> Difference:
    return Difference.objects.select_for_update().get(pk=difference_id)
