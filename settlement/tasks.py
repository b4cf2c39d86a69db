from celery import shared_task

from . import monitoring, services


@shared_task(ignore_result=True)
def settle_due_orders() -> int:
    """Periodic: complete orders whose refund window has ended ("receipt confirmed")."""
    return services.orders_settle_due()


@shared_task(ignore_result=True)
def generate_statements() -> int:
    """Periodic (hourly): yesterday's statements once the day is over; idempotent."""
    return services.statements_generate_due()


@shared_task(ignore_result=True)
def alert_failed_payouts() -> int:
    """Every 10 minutes (beat): e-mail about payouts whose transfer failed (each once)."""
    return monitoring.payouts_failed_alert()
