from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments and ledger")

    def ready(self):
        from . import checks, gateways, receivers  # noqa: F401  (checks, settings reset, signals)
