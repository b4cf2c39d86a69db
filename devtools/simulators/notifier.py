"""Delivering notifications the way a real gateway does: right away, then on the
gateway's retry schedule until the merchant acknowledges or the schedule runs out.

Each simulated gateway registers a :class:`GatewayProfile`: how it signs a
notification, what counts as an acknowledgement, and its real retry schedule, which
``KPAY_SIMULATOR_TIME_SCALE`` compresses for demos and tests (0.01: a 15 s retry
after 0.15 s).
"""

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.tasks import enqueue_on_commit

from .models import SimNotification

logger = logging.getLogger(__name__)
DELIVER_TASK = "devtools.simulators.tasks.deliver_notification"


@dataclass(frozen=True)
class GatewayProfile:
    name: str
    sign_headers: Callable[[bytes], dict]  # body -> headers (may set Content-Type)
    schedule: tuple[int, ...]  # seconds before each retry, as the real gateway does
    acknowledged: Callable[[httpx.Response], bool] = lambda response: response.is_success


_PROFILES: dict[str, GatewayProfile] = {}


def register(profile: GatewayProfile) -> None:
    _PROFILES[profile.name] = profile


def profile_for(gateway: str) -> GatewayProfile:
    return _PROFILES[gateway]


def new_event_id() -> str:
    return f"EV{timezone.now():%Y%m%d}{secrets.token_hex(10).upper()}"


def notification_schedule(*, gateway: str, event_id: str, url: str, body: bytes) -> SimNotification:
    """Queue a notification; its first delivery is attempted once the trade is committed
    (the task is sent by name: tasks import the notifier, never the reverse)."""
    notification = SimNotification.objects.create(
        gateway=gateway,
        event_id=event_id,
        url=url,
        body=body.decode(),
        next_attempt_at=timezone.now(),
    )
    enqueue_on_commit(DELIVER_TASK, notification_id=notification.pk)
    return notification


_LEASE = timedelta(seconds=60)


def notification_deliver(notification_id: int) -> None:
    """One delivery attempt.

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

    profile = profile_for(notification.gateway)
    body = notification.body.encode()
    headers = {"Content-Type": "application/json", **profile.sign_headers(body)}
    try:
        response = httpx.post(notification.url, content=body, headers=headers, timeout=5.0)
        ok, status, error = profile.acknowledged(response), response.status_code, response.text[:255]
    except httpx.HTTPError as exc:
        ok, status, error = False, None, f"{type(exc).__name__}: {exc}"[:255]

    now = timezone.now()
    notification.last_status = status
    notification.last_error = "" if ok else error
    if ok:
        notification.delivered_at, notification.next_attempt_at = now, None
    elif notification.attempts <= len(profile.schedule):
        delay = profile.schedule[notification.attempts - 1] * settings.KPAY_SIMULATOR_TIME_SCALE
        notification.next_attempt_at = now + timedelta(seconds=delay)
    else:
        notification.next_attempt_at = None
        logger.warning("simulator: gave up notifying %s", notification.url)
    notification.save(update_fields=["last_status", "last_error", "delivered_at", "next_attempt_at"])
