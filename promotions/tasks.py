"""Thin Celery tasks for promotions; idempotent."""

from celery import shared_task

from .points import points_expire_due


@shared_task(name="promotions.tasks.expire_points")
def expire_points() -> int:
    """Expire points past their period (oldest first). Run by beat; safe to repeat."""
    return points_expire_due()
