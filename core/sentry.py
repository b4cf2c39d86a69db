"""Error reporting to Sentry (or anything speaking its protocol: GlitchTip, Bugsink),
switched on by ``SENTRY_DSN``.

Personal data stays home: ``send_default_pii`` is off (no user e-mail, IP or cookies),
request bodies and local variables are never sent, and :func:`scrub_event` runs over
every event and breadcrumb before it leaves: request headers and cookies dropped, every
string through :func:`core.logging.scrub` (secrets, card and account numbers) with
e-mail addresses removed too, the values of sensitive keys replaced. The user is kept
as an id only. Each event is tagged with its request id, to find its log lines.
"""

import logging
from typing import Any

from django.conf import settings

from .logging import bound, scrub_value

_KEEP_HEADERS = frozenset({"content-type", "content-length", "user-agent", "x-request-id", "accept"})


def scrub_event(event: dict[str, Any], hint: dict | None = None) -> dict[str, Any] | None:
    """``before_send``: the event without personal data or secrets (also used for
    breadcrumbs and transactions)."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("data", None)
        request.pop("env", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: v for k, v in headers.items() if k.lower() in _KEEP_HEADERS}
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    context = bound()
    if context.get("request_id"):
        event.setdefault("tags", {})["request_id"] = context["request_id"]
    for key in ("task_id", "order_no", "payment_no", "refund_no", "payout_no"):
        if context.get(key):
            event.setdefault("tags", {})[key] = context[key]
    return scrub_value(event, emails=True)


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict | None = None) -> dict[str, Any] | None:
    return scrub_value(crumb, emails=True)


def init_sentry() -> bool:
    """Start the SDK when ``SENTRY_DSN`` is set; True when it was started."""
    dsn = getattr(settings, "SENTRY_DSN", "")
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(dsn=dsn, **sentry_options())
    return True


def sentry_options() -> dict[str, Any]:
    """The SDK's options, apart from the DSN (tests start a client with them, offline)."""
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    return {
        "environment": getattr(settings, "SENTRY_ENVIRONMENT", "") or settings.KPAY_ENV,
        "release": getattr(settings, "KPAY_RELEASE", "") or None,
        "send_default_pii": False,
        "max_request_body_size": "never",
        "include_local_variables": False,
        "traces_sample_rate": float(getattr(settings, "SENTRY_TRACES_SAMPLE_RATE", 0.0)),
        "before_send": scrub_event,
        "before_send_transaction": scrub_event,
        "before_breadcrumb": scrub_breadcrumb,
        "integrations": [
            DjangoIntegration(),
            CeleryIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
    }
