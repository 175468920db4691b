from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "hub.messaging"
    verbose_name = "Messages in and out"
