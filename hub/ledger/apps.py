from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "hub.ledger"
    label = "ledger"
    verbose_name = "Shared ledger"
    default_auto_field = "django.db.models.BigAutoField"
