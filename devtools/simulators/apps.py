from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SimulatorsConfig(AppConfig):
    name = "devtools.simulators"
    label = "simulators"
    verbose_name = _("Gateway simulators (development only)")

    def ready(self):
        from . import notifier, sandbox

        notifier.register(sandbox.profile())
