"""Delivering notifications the way a real gateway does: right away, then on a retry
schedule until the merchant answers 2xx or the schedule runs out."""

import logging
import secrets
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import SimNotification

logger = logging.getLogger(__name__)


def new_event_id() -> str:
    return f"EV{timezone.now():%Y%m%d}{secrets.token_hex(10).upper()}"


def notification_schedule(*, gateway: str, event_id: str, url: str, body: bytes) -> SimNotification:
    """Queue a notification; its first delivery is attempted once the trade is committed."""
    from .tasks import deliver_notification

    notification = SimNotification.objects.create(
        gateway=gateway,
        event_id=event_id,
        url=url,
        body=body.decode(),
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: deliver_notification.delay(notification.pk))
    return notification


_LEASE = timedelta(seconds=60)


def notification_deliver(notification_id: int, *, sign_headers) -> None:
    """One delivery attempt. ``sign_headers(body) -> dict`` signs it for the gateway.

    The attempt is claimed in one short transaction (pushing ``next_attempt_at`` out by
    a lease so no other worker sends it meanwhile), sent with no transaction open, and
    its result recorded in another.
    """
    now = timezone.now()
    with transaction.atomic():
        notification = (
            SimNotification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id, delivered_at__isnull=True, next_attempt_at__lte=now)
            .first()
        )
        if notification is None:
            return
        notification.attempts += 1
        notification.next_attempt_at = now + _LEASE
        notification.save(update_fields=["attempts", "next_attempt_at"])

    body = notification.body.encode()
    headers = {"Content-Type": "application/json", **sign_headers(body)}
    try:
        response = httpx.post(notification.url, content=body, headers=headers, timeout=5.0)
        ok, status, error = response.is_success, response.status_code, response.text[:255]
    except httpx.HTTPError as exc:
        ok, status, error = False, None, f"{type(exc).__name__}: {exc}"[:255]

    now = timezone.now()
    schedule = settings.KPAY_SIMULATOR_NOTIFY_SCHEDULE
    notification.last_status = status
    notification.last_error = "" if ok else error
    if ok:
        notification.delivered_at, notification.next_attempt_at = now, None
    elif notification.attempts <= len(schedule):
        notification.next_attempt_at = now + timedelta(seconds=schedule[notification.attempts - 1])
    else:
        notification.next_attempt_at = None
        logger.warning("simulator: gave up notifying %s", notification.url)
    notification.save(update_fields=["last_status", "last_error", "delivered_at", "next_attempt_at"])
