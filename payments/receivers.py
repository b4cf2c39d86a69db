from django.dispatch import receiver

from orders.signals import order_closed

from .tasks import close_order_payments


@receiver(order_closed, dispatch_uid="payments.close_order_payments")
def _close_payments_of_closed_order(*, order, **kwargs):
    close_order_payments.delay(order.pk)
