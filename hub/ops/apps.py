from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "hub.ops"
    verbose_name = "Operations"
