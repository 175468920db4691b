from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "hub.reconciliation"
    verbose_name = "Reconciliation"
