from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PromotersConfig(AppConfig):
    name = "promoters"
    verbose_name = _("Promoters")

    def ready(self):
        """Plug into the apps below without them importing this one: checkout attribution
        (``orders.attribution``), payouts (``settlement.payees``), the journal's checks,
        a risk rule kind, and the login that keeps a referral on the user."""
        from django.contrib.auth.signals import user_logged_in

        from orders.attribution import register_attribution
        from settlement.payees import register_payee_kind

        from . import ledger, risk, signals  # noqa: F401 (checks and rule kinds register on import)
        from .permissions import may_withdraw
        from .services import PromoterAttribution

        register_attribution(PromoterAttribution())
        register_payee_kind("promoter", may_request=may_withdraw)
        user_logged_in.connect(signals.referral_kept_at_login, dispatch_uid="promoters.referral_at_login")
