from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "hub.settlement"
    verbose_name = "Settlement"
