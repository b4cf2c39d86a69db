from django.apps import AppConfig


class RiskcontrolConfig(AppConfig):
    name = "riskcontrol"
    verbose_name = "Risk control"
