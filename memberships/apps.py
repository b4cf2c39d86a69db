from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembershipsConfig(AppConfig):
    name = "memberships"
    verbose_name = _("Memberships")

    def ready(self):
        """Plug memberships into the apps below it, which never import it: delivery of a
        membership line (``orders.delivery``), access to courses (``courses.access``) and
        the ledger checks (``payments.ledger.checks``)."""
        from courses.access import register_access_source
        from orders.delivery import register_line_kind
        from orders.models import OrderLine
        from payments.ledger import checks as ledger_checks

        from . import checks, selectors
        from .services.periods import period_grant, period_revoke

        register_line_kind(OrderLine.MEMBERSHIP, grant=period_grant, revoke=period_revoke)
        register_access_source(
            "membership", exists=selectors.membership_access_exists, label=_("Unlocked by your membership")
        )
        for check in checks.CHECKS:
            ledger_checks.register(check)
