from celery import shared_task
from django.utils import timezone

from .models import SimNotification
from .notifier import notification_deliver
from .sandbox import sign_for_gateway


@shared_task(ignore_result=True)
def deliver_notification(notification_id: int) -> None:
    notification = SimNotification.objects.filter(pk=notification_id).only("gateway").first()
    if notification is not None:
        notification_deliver(notification_id, sign_headers=sign_for_gateway(notification.gateway))


@shared_task(ignore_result=True)
def deliver_due_notifications() -> int:
    due = list(
        SimNotification.objects.filter(
            delivered_at__isnull=True, next_attempt_at__lte=timezone.now()
        ).values_list("pk", "gateway")[:200]
    )
    for pk, gateway in due:
        notification_deliver(pk, sign_headers=sign_for_gateway(gateway))
    return len(due)
