"""Prometheus metrics (prometheus-client), safe with several processes.

Counters and histograms are incremented where things happen, in whichever process: web
workers, Celery workers. With ``PROMETHEUS_MULTIPROC_DIR`` set (``bin/serve`` and the
gunicorn configuration set it, and wipe it at start) every process writes its values to
files there and ``/metrics`` adds them up; without it (development, tests) they live in
the process. Figures read from the database or the broker (queue sizes, ages, open
differences) are gauges computed at scrape time by the *collectors* named in
``settings.KPAY_METRICS_COLLECTORS`` (dotted paths, so each app reports on its own
tables and ``core`` imports none of them); a collector that fails is counted in
``kpay_metrics_collector_errors_total`` and the rest still answer.

``/metrics`` is answered before Django's host, HTTPS and session middleware (scrapers
call an internal address over plain HTTP), and only to who may see it: a client within
``KPAY_METRICS_ALLOWED_NETWORKS`` (else 404) presenting ``Authorization: Bearer
<KPAY_METRICS_TOKEN>`` (else 403). With neither setting, the endpoint does not exist (404).
"""

import hmac
import ipaddress
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from urllib.parse import urlsplit

from celery import signals
from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .http import client_ip, parse_trusted_proxies

logger = logging.getLogger(__name__)

PATH = "/metrics"

REQUEST_LATENCY = Histogram(
    "kpay_http_request_duration_seconds",
    "Time to answer an HTTP request, by view (URL name), method and status.",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PAYMENTS = Counter(
    "kpay_payments",
    "Payment attempts by channel and outcome (started, succeeded, failed, closed, unapplied).",
    ["channel", "outcome"],
)
NOTIFICATIONS_REJECTED = Counter(
    "kpay_notifications_rejected",
    "Gateway notifications refused, by gateway and reason (signature, timestamp, malformed, "
    "unknown_trade, mismatch, other).",
    ["gateway", "reason"],
)
REFUNDS = Counter("kpay_refunds", "Refunds entering each state.", ["state"])
TASK_LAG = Histogram(
    "kpay_celery_task_lag_seconds",
    "Time a Celery task waited in the queue, from enqueue to start, by task.",
    ["task"],
    buckets=(0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0),
)
ALERTS_SENT = Counter("kpay_alerts_sent", "Alert e-mails sent, by kind.", ["kind"])
COLLECTOR_ERRORS = Counter(
    "kpay_metrics_collector_errors", "Scrape-time collectors that failed, by collector.", ["collector"]
)


def count_on_commit(counter: Counter, **labels) -> None:
    """Increment ``counter`` when the current transaction commits (at once outside one),
    so a rolled-back transition is never counted."""
    transaction.on_commit(lambda: counter.labels(**labels).inc())


def rejection_reason(message: str) -> str:
    """A bounded reason for a rejected notification from its (free-text) message."""
    text = (message or "").lower()
    if "signature" in text or "sign" in text.split():
        return "signature"
    if "timestamp" in text or "notify_time" in text or "stale" in text:
        return "timestamp"
    if "malformed" in text or "missing" in text or "type" in text:
        return "malformed"
    if "unknown trade" in text:
        return "unknown_trade"
    if "match" in text:
        return "mismatch"
    return "other"


def notification_rejected(*, gateway: str, message: str = "", reason: str | None = None) -> None:
    NOTIFICATIONS_REJECTED.labels(gateway=gateway, reason=reason or rejection_reason(message)).inc()


# --- scrape-time gauges --------------------------------------------------------------


def gauge(name: str, documentation: str, values, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    """A gauge family for a collector: ``values`` is a number, or {label values: number}."""
    labels = list(labels)
    family = GaugeMetricFamily(name, documentation, labels=labels or None)
    if isinstance(values, Mapping):
        for key, value in values.items():
            key = key if isinstance(key, tuple) else (key,)
            family.add_metric([str(part) for part in key], float(value))
    elif values is not None:
        family.add_metric([], float(values))
    return family


class _Collectors:
    """The collectors of ``settings.KPAY_METRICS_COLLECTORS``, run at each scrape."""

    def collect(self):
        for path, collector in _collectors(tuple(getattr(settings, "KPAY_METRICS_COLLECTORS", ()))):
            try:
                families = list(collector())
            except Exception:
                logger.exception("metrics collector %s failed", path)
                COLLECTOR_ERRORS.labels(collector=path).inc()
                continue
            yield from families


@lru_cache(maxsize=4)
def _collectors(paths: tuple[str, ...]) -> list[tuple[str, Callable]]:
    return [(path, import_string(path)) for path in paths]


class _InProcess:
    """The process's own registry (no PROMETHEUS_MULTIPROC_DIR: development, tests)."""

    def collect(self):
        return REGISTRY.collect()


def render() -> bytes:
    registry = CollectorRegistry()
    registry.register(_Collectors())  # first: a collector's failure is counted in this scrape
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_InProcess())
    return generate_latest(registry)


# --- the Celery queue ------------------------------------------------------------------


def celery_queue():
    """Collector: the default queue's length and the age of its oldest message
    (``kpay_celery_queue_lag_seconds``, 0 when empty). Redis brokers only: with another
    broker (or none, eager) nothing is reported."""
    url = getattr(settings, "CELERY_BROKER_URL", "") or ""
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) or not url.startswith(("redis://", "rediss://")):
        return []
    import redis

    queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery") or "celery"
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.llen(queue)
        pipe.lindex(queue, -1)  # kombu LPUSHes and BRPOPs: the oldest is last
        length, oldest = pipe.execute()
    finally:
        client.close()
    lag = 0.0
    if oldest:
        try:
            sent = json.loads(oldest).get("headers", {}).get("kpay_enqueued_at")
            lag = max(0.0, time.time() - float(sent)) if sent else 0.0
        except (ValueError, TypeError, AttributeError):
            lag = 0.0
    return [
        gauge(
            "kpay_celery_queue_length", "Messages waiting in the Celery queue.", {queue: length}, ["queue"]
        ),
        gauge(
            "kpay_celery_queue_lag_seconds",
            "Age of the oldest message waiting in the Celery queue (0: empty).",
            {queue: lag},
            ["queue"],
        ),
    ]


def broker_host(url: str) -> str:
    """The broker's scheme and host, without credentials (for logs)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"


@signals.task_prerun.connect(dispatch_uid="kpay.metrics.task_lag")
def _observe_task_lag(task=None, **kwargs):
    request = getattr(task, "request", None)
    sent = getattr(request, "kpay_enqueued_at", None)
    if sent is None:
        sent = (getattr(request, "headers", None) or {}).get("kpay_enqueued_at")
    try:
        lag = time.time() - float(sent)
    except (TypeError, ValueError):
        return
    TASK_LAG.labels(task=getattr(task, "name", "?")).observe(max(0.0, lag))


# --- the endpoint and request timing --------------------------------------------------------


@lru_cache(maxsize=4)
def _networks(entries: tuple[str, ...]):
    return parse_trusted_proxies(entries)


def access(request) -> int:
    """200 when ``request`` may read the metrics, else the status to answer (404, 403)."""
    token = getattr(settings, "KPAY_METRICS_TOKEN", "") or ""
    networks = _networks(tuple(getattr(settings, "KPAY_METRICS_ALLOWED_NETWORKS", ()) or ()))
    if not token and not networks:
        return 404
    if networks:
        try:
            address = ipaddress.ip_address(client_ip(request) or "")
        except ValueError:
            return 404
        if not any(address in network for network in networks):
            return 404
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            return 403
    return 200


class MetricsMiddleware:
    """Serves ``/metrics`` (see the module's docstring) and times every other request
    (``kpay_http_request_duration_seconds``), labelled by its URL name, never its path."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == PATH:
            return self._serve(request)
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match._func_path) if match else "<unresolved>"
        REQUEST_LATENCY.labels(
            view=view, method=_method(request.method), status=response.status_code
        ).observe(time.perf_counter() - started)
        return response

    def _serve(self, request):
        status = access(request)
        if status == 404:
            return HttpResponse("Not Found", status=404, content_type="text/plain")
        if status == 403:
            response = HttpResponse("Forbidden", status=403, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        response = HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
        response["Cache-Control"] = "no-store"
        return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method(method: str | None) -> str:
    return method if method in _METHODS else "other"  # no label per made-up method
