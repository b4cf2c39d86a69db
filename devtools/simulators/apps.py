from django.apps import AppConfig


class SimulatorsConfig(AppConfig):
    name = "devtools.simulators"
    label = "simulators"
    verbose_name = "Gateway simulators (development only)"

    def ready(self):
        from . import notifier, sandbox

        notifier.register(sandbox.profile())
