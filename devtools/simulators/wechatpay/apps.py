from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WeChatPaySimulatorConfig(AppConfig):
    name = "devtools.simulators.wechatpay"
    label = "sim_wechatpay"
    verbose_name = _("WeChat Pay simulator (development only)")

    def ready(self):
        from devtools.simulators import notifier

        from . import papay, views

        for profile in [*views.profiles(), *papay.profiles()]:
            notifier.register(profile)
