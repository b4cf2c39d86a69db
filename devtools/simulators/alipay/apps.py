from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlipaySimulatorConfig(AppConfig):
    name = "devtools.simulators.alipay"
    label = "sim_alipay"
    verbose_name = _("Alipay simulator (development only)")

    def ready(self):
        from devtools.simulators import notifier

        from . import agreements, views

        notifier.register(views.profile())
        views.handlers_add(agreements.HANDLERS)
