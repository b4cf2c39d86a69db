"""One error shape for every API 4xx/5xx: ``{"error": {"code", "message", "details"?}}``.

Messages are in the request's language (``LocaleMiddleware``: the ``Accept-Language`` header,
else the site's language): kpay's own errors carry lazily translated messages, DRF's are
translated by DRF, and the few written here are marked for translation. Codes never change.
"""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import KpayError

logger = logging.getLogger("kpay.api")
DATABASE_RETRY_AFTER = "5"  # seconds: a restart or failover, not an outage of hours


def error_response(code: str, message, status_code: int, details=None) -> Response:
    error = {"code": code, "message": str(message)}
    if details:
        error["details"] = details
    return Response({"error": error}, status=status_code)


def exception_handler(exc, context):
    if isinstance(exc, KpayError):
        return error_response(exc.code, exc.message, exc.http_status)
    if isinstance(exc, RecursionError):
        # JSON nested deeper than the parser can follow (``[[[[…]]]]`` 100,000 deep): any
        # body DRF parses lands here, the unauthenticated token endpoint's too.
        return error_response("parse_error", _("The request body is nested too deeply."), 400)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is restarting, failing over or refused the connection: nothing was
        # written (the request's transaction died with it), so the client may retry.
        logger.error("database unavailable during an API request", exc_info=exc)
        response = error_response(
            "service_unavailable", _("The service is briefly unavailable; retry shortly."), 503
        )
        response["Retry-After"] = DATABASE_RETRY_AFTER
        return response
    if isinstance(exc, RequestDataTooBig):
        return error_response("request_too_large", _("The request body is too large."), 413)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        return error_response(
            "invalid", _("The request is not valid; see details."), response.status_code, response.data
        )
    detail = getattr(exc, "detail", None)
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    response.data = {"error": {"code": code if isinstance(code, str) else "error", "message": str(detail)}}
    return response


def api_not_found(request, *args, **kwargs):
    """A path under the API that no route takes: 404 in the API's error shape (whatever
    the method), rather than the site's HTML page."""
    return JsonResponse(
        {"error": {"code": "not_found", "message": str(exceptions.NotFound.default_detail)}}, status=404
    )


__all__ = ["api_not_found", "error_response", "exception_handler", "status"]
