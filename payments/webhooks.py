"""Gateway notification endpoints: the only CSRF-exempt views in kpay."""

import logging

from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.lean_requests import lean_request
from core.metrics import notification_rejected

from .exceptions import GatewayNotConfigured, InvalidNotification, UnknownTrade
from .gateways import get_gateway
from .gateways.withholding import supports_withholding
from .models import GatewayEvent
from .services import payment_notification_handle

logger = logging.getLogger(__name__)


def _reply(gateway, *, ok: bool, message: str = "", withholding: bool = False) -> HttpResponse:
    answer = gateway.charge_notification_reply if withholding else gateway.notification_reply
    reply = answer(ok=ok, message=message)
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)


@lean_request
@csrf_exempt
@require_POST
def gateway_webhook(request, alias: str):
    """Verify the signature over the raw body, apply the event once, answer as the
    gateway expects. A rejected notification changes nothing and is not stored: its
    content is untrusted."""
    return _handle(request, alias, withholding=False)


@lean_request
@csrf_exempt
@require_POST
def withholding_webhook(request, alias: str):
    """The payment notifications of charges under a withholding agreement (automatic
    renewal): the same handling, in the gateway's withholding format where it has one
    (WeChat Pay's papay charges notify in its v2 XML protocol)."""
    return _handle(request, alias, withholding=True)


def _handle(request, alias: str, *, withholding: bool) -> HttpResponse:
    try:
        gateway = get_gateway(alias)
    except GatewayNotConfigured:
        raise Http404("no such gateway") from None
    if withholding and not supports_withholding(gateway):
        raise Http404("this gateway has no withholding")
    parse = gateway.parse_charge_notification if withholding else gateway.parse_notification
    try:
        try:
            notification = parse(request.headers, request.body)
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
        notification_rejected(gateway=alias, message=exc.message)
        return _reply(gateway, ok=False, message=exc.message, withholding=withholding)
    try:
        outcome = payment_notification_handle(gateway=gateway, notification=notification)
    except UnknownTrade:
        logger.warning(
            "webhook %s: notification %s for unknown trade %s",
            alias,
            notification.event_id,
            notification.trade_no,
        )
        notification_rejected(gateway=alias, reason="unknown_trade")
        return _reply(gateway, ok=False, message="unknown trade", withholding=withholding)
    if outcome == GatewayEvent.Outcome.MISMATCH:
        notification_rejected(gateway=alias, reason="mismatch")
        return _reply(gateway, ok=False, message="does not match the order", withholding=withholding)
    return _reply(gateway, ok=True, withholding=withholding)
