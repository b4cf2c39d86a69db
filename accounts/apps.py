from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Learners' accounts: signing up, API tokens, staff second factor."""

    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from . import signals

        signals.connect()
