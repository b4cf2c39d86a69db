from django.apps import AppConfig


class WeChatPaySimulatorConfig(AppConfig):
    name = "payments.simulators.wechatpay"
    label = "sim_wechatpay"
    verbose_name = "WeChat Pay simulator (development only)"
