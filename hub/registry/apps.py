from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "hub.registry"
    verbose_name = "Reference data"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from hub.registry import dbfunctions

        connection_created.connect(
            dbfunctions.register_sqlite_functions, dispatch_uid="registry-sqlite-functions"
        )
