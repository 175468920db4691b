from django.db import migrations

from hub.ops.schedules import periodic_task_ensure, periodic_task_remove

NAME = "messaging: re-drive overdue webhook deliveries"


def create(apps, schema_editor):
    periodic_task_ensure(apps, name=NAME, task="hub.messaging.webhooks_sweep", every_seconds=30,
                         description="Re-sends webhook deliveries whose next attempt is overdue.")


def remove(apps, schema_editor):
    periodic_task_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(create, remove)]
