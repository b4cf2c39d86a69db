"""``/healthz`` and ``/readyz`` for load balancers and orchestrators.

* ``/healthz``: the process answers (liveness). Touches nothing.
* ``/readyz``: this process can serve (readiness): the database answers and has every
  migration applied, the cache stores and reads a value, the broker accepts a
  connection (in eager mode there is none to check), and the gateway configuration
  passes its system checks (``kpay.E0xx``, registered by ``payments.checks``; run here
  through Django's check registry, so ``core`` imports no app).

Both answer before every other middleware, so a probe needs neither an allowed host
nor HTTPS, sets no cookie and opens no session. The answer says which check failed and
nothing more (``{"status": "unavailable", "checks": {"database": "ok", "migrations":
"fail", ...}}``); the reason is logged, once per change, for the operators. Polling
costs a few milliseconds: one ``SELECT 1``, one read of ``django_migrations``, a
cache round trip, a broker connection and the gateway checks, which read files only.
"""

import json
import logging
import secrets
import threading

from django.conf import settings
from django.core.cache import cache
from django.core.checks import ERROR, Tags, run_checks
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse

logger = logging.getLogger(__name__)

HEALTHZ = "/healthz"
READYZ = "/readyz"


def check_database() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return ""


def check_migrations() -> str:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in plan[:5])
        return f"{len(plan)} migration(s) not applied: {names}"
    return ""


def check_cache() -> str:
    key, value = f"kpay:readyz:{secrets.token_hex(4)}", secrets.token_hex(8)
    cache.set(key, value, 10)
    try:
        read = cache.get(key)
    finally:
        cache.delete(key)
    return "" if read == value else "the cache did not give back what was stored"


def check_broker() -> str:
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        return ""  # tasks run in-process: there is no broker
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
        return ""
    from celery import current_app

    with current_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
    return ""


def check_gateways() -> str:
    problems = [
        message
        for message in run_checks(tags=[Tags.compatibility])
        if message.level >= ERROR and str(message.id or "").startswith("kpay.")
    ]
    return "; ".join(f"{message.id}: {message.msg}" for message in problems)


CHECKS = {
    "database": check_database,
    "migrations": check_migrations,
    "cache": check_cache,
    "broker": check_broker,
    "gateways": check_gateways,
}
# Without a database the migrations cannot be read: reported as failed too.
_NEEDS = {"migrations": "database"}

_last_failures: dict[str, str] = {}
_lock = threading.Lock()


def readiness() -> tuple[bool, dict[str, str]]:
    """Every check's result ("ok" or "fail"), and whether all passed; failures logged
    when they start and when they end."""
    results: dict[str, str] = {}
    failures: dict[str, str] = {}
    for name, check in CHECKS.items():
        if results.get(_NEEDS.get(name, "")) == "fail":
            problem = f"skipped: {_NEEDS[name]} unavailable"
        else:
            try:
                problem = check()
            except Exception as exc:  # any failure of a dependency is "not ready"
                problem = f"{type(exc).__name__}: {exc}"
        results[name] = "fail" if problem else "ok"
        if problem:
            failures[name] = problem
    _log_changes(failures)
    return not failures, results


def _log_changes(failures: dict[str, str]) -> None:
    with _lock:
        for name, problem in failures.items():
            if _last_failures.get(name) != problem:
                logger.error("readiness check %s failed: %s", name, problem)
        for name in set(_last_failures) - set(failures):
            logger.warning("readiness check %s passes again", name)
        _last_failures.clear()
        _last_failures.update(failures)


def _json(payload: dict, status: int) -> HttpResponse:
    response = HttpResponse(json.dumps(payload), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


class HealthMiddleware:
    """Answers ``/healthz`` and ``/readyz`` (GET or HEAD) before anything else runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == HEALTHZ:
            return self._only_get(request) or _json({"status": "ok"}, 200)
        if request.path == READYZ:
            refused = self._only_get(request)
            if refused:
                return refused
            ready, checks = readiness()
            return _json(
                {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503
            )
        return self.get_response(request)

    @staticmethod
    def _only_get(request):
        if request.method in ("GET", "HEAD"):
            return None
        response = _json({"status": "method not allowed"}, 405)
        response["Allow"] = "GET, HEAD"
        return response
