"""Row locks on catalog rows, in the project's lock order (README, "Lock order"):
merchant → payment with its order → order alone → refunds → payout → difference."""

from .models import Merchant


def merchant_lock(*, merchant_id: int) -> None:
    """Lock a merchant's row: serialises what reads and sets aside its balance (payouts)."""
    Merchant.objects.select_for_update().only("pk").get(pk=merchant_id)
