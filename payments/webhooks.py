"""Gateway notification endpoints: the only CSRF-exempt views in kpay."""

import logging

from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .exceptions import GatewayNotConfigured, InvalidNotification, UnknownTrade
from .gateways import get_gateway
from .models import GatewayEvent
from .services import payment_notification_handle

logger = logging.getLogger(__name__)


def _reply(gateway, *, ok: bool, message: str = "") -> HttpResponse:
    reply = gateway.notification_reply(ok=ok, message=message)
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)


@csrf_exempt
@require_POST
def gateway_webhook(request, alias: str):
    """Verify the signature over the raw body, apply the event once, answer as the
    gateway expects. A rejected notification changes nothing and is not stored: its
    content is untrusted."""
    try:
        gateway = get_gateway(alias)
    except GatewayNotConfigured:
        raise Http404("no such gateway") from None
    try:
        try:
            notification = gateway.parse_notification(request.headers, request.body)
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            # A backend that let a malformed body through: still the gateway's "rejected".
            raise InvalidNotification(f"malformed notification: {type(exc).__name__}") from exc
    except InvalidNotification as exc:
        logger.warning(
            "webhook %s: rejected notification from %s: %s",
            alias,
            request.META.get("REMOTE_ADDR"),
            exc.message,
        )
        return _reply(gateway, ok=False, message=exc.message)
    try:
        outcome = payment_notification_handle(gateway=gateway, notification=notification)
    except UnknownTrade:
        logger.warning(
            "webhook %s: notification %s for unknown trade %s",
            alias,
            notification.event_id,
            notification.trade_no,
        )
        return _reply(gateway, ok=False, message="unknown trade")
    if outcome == GatewayEvent.Outcome.MISMATCH:
        return _reply(gateway, ok=False, message="does not match the order")
    return _reply(gateway, ok=True)
