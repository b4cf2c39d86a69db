"""Background jobs: work too long for a request, run by a Celery worker, watched by staff.

A page that starts one calls :func:`job_create` (in the request's transaction) and sends
its app's task by name after commit, with the job's id; the request answers at once with
the job's progress page. The task calls :func:`job_run`, which marks the job running,
hands the work a :class:`Progress` to report to, and records the result or the error. A
job is run once: a task delivered again for a finished job does nothing.
"""

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext

from django.db import transaction
from django.utils import timezone, translation

from core.errors import KpayError
from core.locks import job_lock
from core.models import Job
from core.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)


def job_create(*, kind: str, title: str, actor, params: dict, task: str) -> Job:
    """A queued job, and ``task`` sent (``task(job_id=…)``) once the transaction commits."""
    job = Job.objects.create(
        kind=kind,
        title=str(title)[:200],
        params=params,
        created_by=actor,
        language=translation.get_language() or "",
    )
    enqueue_on_commit(task, job_id=job.pk)
    return job


class Progress:
    """What a running job reports: how much is done of how much, and what it is doing. Writes
    at most every ``interval`` seconds (the last report is always written by ``job_run``)."""

    def __init__(self, job: Job, *, interval: float = 0.5):
        self.job, self.interval, self._written = job, interval, 0.0

    def __call__(self, done: int, total: int | None = None, step: str | None = None) -> None:
        self.job.done = done
        if total is not None:
            self.job.total = total
        if step is not None:
            self.job.step = str(step)[:200]
        now = time.monotonic()
        if now - self._written >= self.interval or step is not None:
            self._written = now
            self.save()

    def save(self) -> None:
        Job.objects.filter(pk=self.job.pk).update(
            done=self.job.done, total=self.job.total, step=self.job.step
        )


class JobFailed(Exception):
    def __init__(self, message: str, *, result: dict | None = None):
        super().__init__(message)
        self.message, self.result = str(message), result


def job_run(job_id: int, work: Callable[[Job, Progress], dict]) -> Job | None:
    """Run ``work(job, progress)`` for a queued (or interrupted) job and record how it ended:
    the dict it returns as the result, or the error it raised (a :class:`KpayError`'s
    message as it is; anything else by its type, and logged). ``work`` may raise
    :class:`JobFailed` to fail with a result (what it got to, for the result page)."""
    with transaction.atomic():
        job = job_lock(job_id=job_id)
        if job is None or job.finished:
            return job
        job.state, job.started_at = Job.State.RUNNING, timezone.now()
        job.save(update_fields=["state", "started_at"])
    progress = Progress(job)
    try:
        with translation.override(job.language) if job.language else nullcontext():
            result = work(job, progress)
    except JobFailed as failed:
        return _finish(job, Job.State.FAILED, result=failed.result, error=failed.message)
    except KpayError as exc:
        return _finish(job, Job.State.FAILED, error=str(exc.message))
    except Exception as exc:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        return _finish(job, Job.State.FAILED, error=f"{type(exc).__name__}: {exc}")
    return _finish(job, Job.State.SUCCEEDED, result=result)


def _finish(job: Job, state: str, *, result: dict | None = None, error: str = "") -> Job:
    job.state, job.result, job.error, job.finished_at = state, result, error, timezone.now()
    if state == Job.State.SUCCEEDED and job.total:
        job.done = job.total
    job.save(update_fields=["state", "result", "error", "finished_at", "done", "total", "step"])
    return job
