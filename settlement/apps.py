from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SettlementConfig(AppConfig):
    name = "settlement"
    verbose_name = _("Settlement and payouts")

    def ready(self):
        from . import checks, summaries  # noqa: F401  (register the ledger checks, the daily summary)
