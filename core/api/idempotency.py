"""``Idempotency-Key`` for unsafe API requests: same key and body, same response;
same key with another body, a clear 422; a retry while the first is running, 409.

A request holds its key under a lease (``KPAY_IDEMPOTENCY_LEASE``, longer than any
request may run). If its worker is killed or its database connection drops before it
records the answer, the key is not wedged: a retry after the lease takes it over and
runs the request, and ``core.tasks.sweep_idempotency_records`` (beat) deletes keys
nobody came back for, and answered keys older than ``KPAY_IDEMPOTENCY_RETENTION``.
"""

import functools
import hashlib
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from core.api.errors import error_response
from core.errors import KpayError
from core.models import IdempotencyRecord

logger = logging.getLogger(__name__)

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


def idempotency_lease():
    """How long a request may hold its key before a retry may take the key over."""
    return settings.KPAY_IDEMPOTENCY_LEASE


def _stale(now) -> Q:
    """In progress, and its holder's lease has run out (it crashed, or its database
    connection dropped before it could record the answer or let go of the key)."""
    return Q(status_code__isnull=True) & Q(locked_until__lt=now)


def _claim(request, key: str, scope: str, fingerprint: str) -> IdempotencyRecord:
    """The record this request now holds, or raise what the client must be told.

    A new key is claimed by its INSERT. A key in progress whose lease ran out is taken
    over by one conditional UPDATE, so of several retries arriving together exactly one
    wins (the row lock serialises them; the others see the new lease and get 409)."""
    for _attempt in range(3):
        now = timezone.now()
        locked_until = now + idempotency_lease()
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    user=request.user,
                    key=key,
                    scope=scope[:200],
                    fingerprint=fingerprint,
                    locked_until=locked_until,
                )
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
        if record is None:
            continue  # its holder failed and let go of it (or the sweep deleted it): claim it anew
        if record.fingerprint != fingerprint:
            raise IdempotencyConflict()
        if record.status_code is not None:
            return record
        taken = IdempotencyRecord.objects.filter(_stale(now), pk=record.pk).update(locked_until=locked_until)
        if not taken:
            raise IdempotencyInProgress()
        logger.warning("Idempotency-Key %s: lease ran out, retry takes it over", record.pk)
        record.locked_until = locked_until
        return record
    raise IdempotencyInProgress()


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
        record = _claim(request, key, scope, fingerprint)
        if record.status_code is not None:
            replay = Response(record.response_body, status=record.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay

        # Everything below touches the record only while this request still holds it.
        held = IdempotencyRecord.objects.filter(
            pk=record.pk, status_code__isnull=True, locked_until=record.locked_until
        )
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            held.delete()  # nothing was done: the same key may be retried
            raise
        if response.status_code >= 500:
            held.delete()
        else:
            held.update(status_code=response.status_code, response_body=response.data, locked_until=None)
        return response

    return wrapper


def idempotency_records_sweep(*, now=None) -> int:
    """Delete keys nobody will finish (in progress past their lease: their holder
    crashed) and, when ``KPAY_IDEMPOTENCY_RETENTION`` is set, answered keys older than
    that (a client retrying later than that runs the request again, as with a new key).
    Returns how many went."""
    now = now or timezone.now()
    stale = IdempotencyRecord.objects.filter(_stale(now))
    gone = stale.delete()[0]
    retention = settings.KPAY_IDEMPOTENCY_RETENTION
    if retention:
        gone += IdempotencyRecord.objects.filter(
            status_code__isnull=False, created_at__lt=now - retention
        ).delete()[0]
    return gone
