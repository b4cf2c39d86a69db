from celery import shared_task
from django.utils import timezone

from .models import SimNotification
from .notifier import notification_deliver


@shared_task(ignore_result=True)
def deliver_notification(notification_id: int) -> None:
    notification_deliver(notification_id)


@shared_task(ignore_result=True)
def deliver_due_notifications() -> int:
    due = list(
        SimNotification.objects.filter(delivered_at__isnull=True, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:200]
    )
    for pk in due:
        notification_deliver(pk)
    return len(due)
