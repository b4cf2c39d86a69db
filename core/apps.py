from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """What every kpay app shares: errors, state history, money, client info, idempotency,
    the API error shape, the admin toolkit, and running it (health, logs, metrics,
    alerts, error reports). Imports Django and libraries only."""

    name = "core"
    verbose_name = _("Platform")

    def ready(self):
        # Celery signal receivers: the request id into tasks, queue lag, one beat (connected on import).
        from . import beat, metrics, request_id  # noqa: F401
        from .db import cache_long_statements
        from .sentry import init_sentry

        init_sentry()
        cache_long_statements()
