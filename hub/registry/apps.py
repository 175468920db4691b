from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "hub.registry"
    verbose_name = "Reference data"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from hub.registry import dbfunctions

        connection_created.connect(
            dbfunctions.register_sqlite_functions, dispatch_uid="registry-sqlite-functions"
        )
        post_migrate.connect(
            dbfunctions.timezone_function_refresh, sender=self, dispatch_uid="registry-timezone-function"
        )
