from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments and ledger"

    def ready(self):
        from . import checks, gateways, receivers  # noqa: F401  (checks, settings reset, signals)
