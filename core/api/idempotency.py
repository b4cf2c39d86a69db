"""``Idempotency-Key`` for unsafe API requests: same key and body, same response;
same key with another body, a clear 422; a retry while the first is running, 409."""

import functools
import hashlib

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from core.api.errors import error_response
from core.errors import KpayError
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Same key and body: the first response is replayed. Same key, other body: 422.",
)


class IdempotencyConflict(KpayError):
    code = "idempotency_key_reused"
    message = _("This Idempotency-Key was already used with a different request.")
    http_status = 422


class IdempotencyInProgress(KpayError):
    code = "idempotency_key_in_progress"
    message = _("A request with this Idempotency-Key is still being processed; retry shortly.")
    http_status = 409


def idempotent(view_method):
    """Decorate an APIView method (``post``). Without the header it just runs."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER, "").strip()
        if not key:
            return view_method(self, request, *args, **kwargs)
        if len(key) > MAX_KEY_LENGTH:
            return error_response(
                "invalid_idempotency_key", f"{HEADER} is longer than {MAX_KEY_LENGTH} characters.", 400
            )
        scope = f"{request.method} {request.path}"
        fingerprint = hashlib.sha256(scope.encode() + b"\n" + request.body).hexdigest()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=request.user, key=key, scope=scope[:200], fingerprint=fingerprint
                )
        except IntegrityError:
            record = IdempotencyRecord.objects.get(user=request.user, key=key)
            if record.fingerprint != fingerprint:
                raise IdempotencyConflict() from None
            if record.status_code is None:
                raise IdempotencyInProgress() from None
            replay = Response(record.response_body, status=record.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay

        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            record.delete()  # nothing was done: the same key may be retried
            raise
        if response.status_code >= 500:
            record.delete()
        else:
            record.status_code = response.status_code
            record.response_body = response.data
            record.save(update_fields=["status_code", "response_body"])
        return response

    return wrapper
