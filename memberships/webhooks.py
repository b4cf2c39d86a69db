"""The gateways' agreement notifications (signed, ended by either side): CSRF-exempt
like ``payments.webhooks``, authenticated by the gateway's signature instead."""

import logging

from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.exceptions import GatewayNotConfigured, InvalidNotification
from payments.gateways import get_gateway
from payments.gateways.withholding import supports_withholding

from .exceptions import AgreementMismatch, UnknownAgreement
from .services import agreement_notification_handle

logger = logging.getLogger(__name__)


def _reply(gateway, *, ok: bool, message: str = "") -> HttpResponse:
    reply = gateway.agreement_notification_reply(ok=ok, message=message)
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)


@csrf_exempt
@require_POST
def agreement_webhook(request, alias: str):
    """Verify over the raw body, apply once, answer as the gateway expects. A rejected
    notification (bad signature, stale, malformed, not ours) changes nothing and is not
    stored: its content is untrusted."""
    try:
        gateway = get_gateway(alias)
    except GatewayNotConfigured:
        raise Http404("no such gateway") from None
    if not supports_withholding(gateway):
        raise Http404("this gateway has no withholding")
    try:
        try:
            notification = gateway.parse_agreement_notification(request.headers, request.body)
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise InvalidNotification(f"malformed notification: {type(exc).__name__}") from exc
    except InvalidNotification as exc:
        logger.warning(
            "agreement webhook %s: rejected notification from %s: %s",
            alias,
            request.META.get("REMOTE_ADDR"),
            exc.message,
        )
        return _reply(gateway, ok=False, message=exc.message)
    try:
        agreement_notification_handle(gateway=gateway, notification=notification)
    except UnknownAgreement:
        logger.warning("agreement webhook %s: %s is not ours", alias, notification.agreement_no)
        return _reply(gateway, ok=False, message="unknown agreement")
    except AgreementMismatch:
        return _reply(gateway, ok=False, message="does not match the agreement")
    return _reply(gateway, ok=True)
