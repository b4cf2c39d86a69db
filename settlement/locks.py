"""Row locks on payouts, in the project's lock order (README, "Lock order"):
merchant → payment with its order → order alone → refunds → payout → difference."""

from .models import Payout


def payout_lock(*, payout_id: int) -> Payout:
    return Payout.objects.select_for_update().get(pk=payout_id)
