from django.apps import AppConfig


class AlipaySimulatorConfig(AppConfig):
    name = "payments.simulators.alipay"
    label = "sim_alipay"
    verbose_name = "Alipay simulator (development only)"
