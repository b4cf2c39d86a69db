from celery import shared_task
from django.utils import timezone

from .models import Order
from .services import order_expire


@shared_task(ignore_result=True)
def expire_unpaid_orders() -> int:
    """Close unpaid orders past their payment deadline (their gateway trades are
    closed on commit, by payments). Each order in its own transaction."""
    due = Order.objects.filter(
        status=Order.Status.PENDING_PAYMENT, expires_at__lte=timezone.now()
    ).values_list("pk", flat=True)
    return sum(order_expire(order_id=pk) is not None for pk in due.iterator())
