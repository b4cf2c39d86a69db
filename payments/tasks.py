"""Thin Celery tasks over the payment services; each is idempotent. Services enqueue them by
name (``core.tasks.enqueue_on_commit("payments.tasks.process_refund", refund_id=…)``) and
never import this module."""

from celery import shared_task

from . import monitoring, services
from .ledger import summaries


@shared_task(ignore_result=True)
def close_order_payments(order_id: int) -> None:
    services.order_payments_close(order_id=order_id)


@shared_task(ignore_result=True)
def close_superseded_trade(payment_id: int) -> None:
    """Close at its gateway the trade of a pay request that lost the race to another."""
    services.payment_close_at_gateway(payment_id=payment_id)


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
    services.refund_process(refund_id=refund_id)


@shared_task(ignore_result=True)
def sync_refunds() -> int:
    """Periodic: settle refunds whose notification has not come (or whose task was lost)."""
    return services.refunds_sync_pending()


@shared_task(ignore_result=True)
def ledger_check_daily() -> int:
    """Daily (beat): every ledger invariant; finance and the admins are e-mailed on a breach."""
    return monitoring.ledger_check_alert()


@shared_task(ignore_result=True)
def alert_stuck_refunds() -> int:
    """Hourly (beat): e-mail about refunds processing for more than a day (each once)."""
    return monitoring.refunds_stuck_alert()


@shared_task(ignore_result=True)
def fold_journal_summaries() -> dict[str, int]:
    """Every minute (beat): fold the newly committed journal entries into its summaries
    (account balances, settlement's daily figures). Idempotent: each summary's checkpoint
    moves in the transaction that folds."""
    return summaries.fold_all()
