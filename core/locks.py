"""Row locks of core's tables (README "Lock order"): a background job's row is locked alone,
with nothing else held, only to mark it running."""

from core.models import Job


def job_lock(*, job_id: int) -> Job | None:
    return Job.objects.select_for_update().filter(pk=job_id).first()
