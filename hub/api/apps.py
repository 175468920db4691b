from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "hub.api"
    verbose_name = "API"
