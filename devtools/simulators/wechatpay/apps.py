from django.apps import AppConfig


class WeChatPaySimulatorConfig(AppConfig):
    name = "devtools.simulators.wechatpay"
    label = "sim_wechatpay"
    verbose_name = "WeChat Pay simulator (development only)"

    def ready(self):
        from devtools.simulators import notifier

        from . import papay, views

        for profile in [*views.profiles(), *papay.profiles()]:
            notifier.register(profile)
