"""The request id: one per HTTP request, on every log line it causes, in the response's
``X-Request-ID`` header, and carried into the Celery tasks the request enqueues (and the
tasks those enqueue) in a message header.

An incoming ``X-Request-ID`` (a load balancer's or a client's) is kept when it is sane:
8 to 64 characters of ``[A-Za-z0-9._:-]``; otherwise a new one (32 hex digits) is made.
Every request also ends with one ``kpay.request`` log line: method, path (never the
query string), view, status, duration, user id.
"""

import logging
import re
import time
import uuid
from contextlib import suppress

from celery import signals

from .http import client_ip
from .logging import bind, bound, log_context, unbind

HEADER = "X-Request-ID"
TASK_HEADER = "kpay_request_id"  # the Celery message header carrying it
ENQUEUED_AT_HEADER = "kpay_enqueued_at"  # time.time() when sent: queue lag (core.metrics)
_SANE = re.compile(r"[A-Za-z0-9._:-]{8,64}")
# Probes polled every few seconds: logged only when they fail.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

request_logger = logging.getLogger("kpay.request")


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str | None:
    return value if value and _SANE.fullmatch(value) else None


def current_request_id() -> str | None:
    return bound().get("request_id")


class RequestIdMiddleware:
    """First in ``MIDDLEWARE``: binds the request id (and the order, payment or refund
    number in the URL) to the logs, sets the response header, logs the request."""

    NUMBER_KWARGS = ("order_no", "payment_no", "refund_no", "payout_no")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = sane_request_id(request.headers.get(HEADER)) or new_request_id()
        request.request_id = request_id
        started = time.perf_counter()
        with log_context(request_id=request_id):
            response = self.get_response(request)
            response[HEADER] = request_id
            self._log(request, response, time.perf_counter() - started)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Bound for the rest of the request (the view and what it logs).
        numbers = {key: view_kwargs[key] for key in self.NUMBER_KWARGS if view_kwargs.get(key)}
        if numbers:
            request._kpay_log_token = bind(**numbers)

    def _log(self, request, response, duration):
        token = getattr(request, "_kpay_log_token", None)
        status = response.status_code
        if request.path in QUIET_PATHS and status < 500:
            if token is not None:
                unbind(token)
            return
        level = logging.ERROR if status >= 500 else logging.INFO
        if not request_logger.isEnabledFor(level):  # LOG_LEVEL above INFO: no line to build
            if token is not None:
                unbind(token)
            return
        match = getattr(request, "resolver_match", None)
        user = getattr(request, "user", None)
        request_logger.log(
            level,
            "%s %s %s",
            request.method,
            request.path,
            status,
            extra={
                "method": request.method,
                "path": request.path,
                "status": status,
                "view": match.view_name if match else None,
                "duration_ms": round(duration * 1000, 1),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
                "client_ip": client_ip(request) or "-",
            },
        )
        if token is not None:
            unbind(token)


# --- Celery: the request id travels in a message header ----------------------------------


@signals.before_task_publish.connect(dispatch_uid="kpay.request_id.publish")
def _add_request_id_header(headers=None, **kwargs):
    """On publish (never in eager mode, where the task runs in the request's own context)."""
    if headers is None:
        return
    request_id = current_request_id()
    if request_id and TASK_HEADER not in headers:
        headers[TASK_HEADER] = request_id
    headers.setdefault(ENQUEUED_AT_HEADER, time.time())


def _task_header(task, name):
    request = getattr(task, "request", None)
    value = getattr(request, name, None)
    if value is None:  # older message protocols keep custom headers apart
        value = (getattr(request, "headers", None) or {}).get(name)
    return value


@signals.task_prerun.connect(dispatch_uid="kpay.request_id.prerun")
def _bind_task_context(task_id=None, task=None, **kwargs):
    fields = {"task_id": task_id, "task_name": getattr(task, "name", None)}
    request_id = sane_request_id(_task_header(task, TASK_HEADER))
    if request_id:  # eager tasks keep the request id of the request they run in
        fields["request_id"] = request_id
    for key, value in (kwargs.get("kwargs") or {}).items():
        if key in RequestIdMiddleware.NUMBER_KWARGS and isinstance(value, str):
            fields[key] = value
    tokens = getattr(task, "_kpay_log_tokens", None)
    if tokens is None:
        tokens = task._kpay_log_tokens = {}
    tokens[task_id] = bind(**fields)


@signals.task_postrun.connect(dispatch_uid="kpay.request_id.postrun")
def _unbind_task_context(task_id=None, task=None, **kwargs):
    token = (getattr(task, "_kpay_log_tokens", None) or {}).pop(task_id, None)
    if token is not None:
        with suppress(ValueError):  # set in another context (a pool that switched threads)
            unbind(token)
