"""Enqueueing Celery tasks by name, once the current transaction commits.

The project's rule against import cycles: **tasks import services; services never import
tasks.** A service sends a task the way it would send a message, by its registered name
(``"payments.tasks.process_refund"``), after commit so a worker never sees rows that are not
there yet. Eager mode (the embedded default, the tests) runs it in-process, as ``delay`` does.
"""

from celery import current_app, shared_task
from django.db import transaction

from core.api.idempotency import idempotency_records_sweep


def task_send(name: str, /, **kwargs) -> None:
    """Send task ``name`` now (eager mode: run it now)."""
    _task(name).delay(**kwargs)


def enqueue_on_commit(name: str, /, **kwargs) -> None:
    """Send task ``name`` with ``kwargs`` when the current transaction commits (at once
    outside a transaction); nothing is sent if it rolls back."""
    transaction.on_commit(lambda: task_send(name, **kwargs))


def _task(name: str):
    tasks = current_app.tasks
    if name not in tasks:
        current_app.loader.import_default_modules()  # autodiscovery: every app's tasks.py
    return tasks[name]  # a KeyError here is a misspelt task name: a bug, not a runtime condition


@shared_task(ignore_result=True)
def sweep_idempotency_records() -> int:
    """Periodic: delete Idempotency-Keys left in progress past their lease (a crashed
    request) and answered ones older than ``KPAY_IDEMPOTENCY_RETENTION``."""
    return idempotency_records_sweep()
