from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def close_order_payments(order_id: int) -> None:
    services.order_payments_close(order_id=order_id)


@shared_task(ignore_result=True)
def sync_pending_payments() -> int:
    return services.payments_sync_pending()


@shared_task(ignore_result=True)
def close_stale_payments() -> int:
    return services.payments_close_stale()
