from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Learners' accounts: signing up, API tokens, staff second factor."""

    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from . import signals, timezones

        signals.connect()
        user_logged_in.connect(timezones.remember_at_login, dispatch_uid="kpay-time-zone-at-login")
