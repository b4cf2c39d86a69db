from django.apps import AppConfig


class AlipaySimulatorConfig(AppConfig):
    name = "devtools.simulators.alipay"
    label = "sim_alipay"
    verbose_name = "Alipay simulator (development only)"

    def ready(self):
        from devtools.simulators import notifier

        from . import agreements, views

        notifier.register(views.profile())
        views.handlers_add(agreements.HANDLERS)
