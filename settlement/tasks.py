from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def settle_due_orders() -> int:
    """Periodic: complete orders whose refund window has ended ("receipt confirmed")."""
    return services.orders_settle_due()
