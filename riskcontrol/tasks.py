from celery import shared_task

from . import services


@shared_task(ignore_result=True, acks_late=True)
def backtest_job(job_id: int) -> None:
    """Rules back-tested on past orders, as a background job staff asked for."""
    services.backtest_job_run(job_id=job_id)
