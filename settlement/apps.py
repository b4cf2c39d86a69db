from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SettlementConfig(AppConfig):
    name = "settlement"
    verbose_name = _("Settlement and payouts")

    def ready(self):
        from . import checks  # noqa: F401  (registers the ledger checks)
