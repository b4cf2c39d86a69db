from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """What every kpay app shares: errors, state history, money, client info, idempotency,
    the API error shape, the admin toolkit. Imports Django and libraries only."""

    name = "core"
    verbose_name = _("Core")
