"""Row locks on orders, in the project's lock order (README, "Lock order"):
merchant → payment with its order → order alone → refunds → payout → difference.

Code that will touch an order's payment locks the payment with its order
(``payments.locks``) instead: never a payment after its order alone.
"""

from .models import Order


def order_lock(*, order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)
