from django.apps import AppConfig


class SimulatorsConfig(AppConfig):
    name = "payments.simulators"
    label = "simulators"
    verbose_name = "Gateway simulators (development only)"
