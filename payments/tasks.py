from celery import shared_task

from . import refunds, services


@shared_task(ignore_result=True)
def close_order_payments(order_id: int) -> None:
    services.order_payments_close(order_id=order_id)


@shared_task(ignore_result=True)
def sync_pending_payments() -> int:
    return services.payments_sync_pending()


@shared_task(ignore_result=True)
def close_stale_payments() -> int:
    return services.payments_close_stale()


@shared_task(ignore_result=True)
def process_refund(refund_id: int) -> None:
    """Send an approved refund to its gateway. Idempotent: the refund number is the
    gateway's idempotency key, and a settled refund is left alone."""
    refunds.refund_process(refund_id=refund_id)


@shared_task(ignore_result=True)
def sync_refunds() -> int:
    """Periodic: settle refunds whose notification has not come (or whose task was lost)."""
    return refunds.refunds_sync_pending()
