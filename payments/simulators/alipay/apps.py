from django.apps import AppConfig


class AlipaySimulatorConfig(AppConfig):
    name = "payments.simulators.alipay"
    label = "sim_alipay"
    verbose_name = "Alipay simulator (development only)"

    def ready(self):
        from payments.simulators import notifier

        from . import views

        notifier.register(views.profile())
