from datetime import date

from celery import shared_task

from . import monitoring, services


@shared_task(ignore_result=True)
def reconcile_bills(bill_date: str | None = None) -> list[int]:
    """Daily (beat, after the gateways publish yesterday's bills): fetch and reconcile
    every gateway's bill of ``bill_date`` (ISO, default yesterday). Idempotent: a day
    reconciled again updates its differences and posts no fee twice."""
    day = date.fromisoformat(bill_date) if bill_date else services.yesterday()
    return [run.pk for run in services.reconciliation_fetch_all(bill_date=day)]


@shared_task(ignore_result=True, acks_late=True)
def reconcile_bill_job(job_id: int) -> None:
    """A bill staff asked to reconcile ("Reconcile a bill"), as a background job."""
    services.reconciliation_job_run(job_id=job_id)


@shared_task(ignore_result=True)
def alert_reconciliation() -> int:
    """Every 15 minutes (beat): e-mail about reconciliation runs that failed or found
    differences (each run once)."""
    return monitoring.reconciliation_alert()
