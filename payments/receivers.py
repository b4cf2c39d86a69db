from django.dispatch import receiver

from orders.signals import order_closed
from promotions.signals import points_booked

from . import ledger
from .tasks import close_order_payments


@receiver(order_closed, dispatch_uid="payments.close_order_payments")
def _close_payments_of_closed_order(*, order, **kwargs):
    close_order_payments.delay(order.pk)


@receiver(points_booked, dispatch_uid="payments.post_points")
def _post_points(*, kind, value, learner_id, order_id, at, **kwargs):
    """Points moved: the journal follows in the same transaction."""
    ledger.post_points(kind=str(kind), value=value, learner_id=learner_id, order_id=order_id, at=at)
