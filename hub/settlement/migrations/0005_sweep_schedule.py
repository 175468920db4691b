from django.db import migrations

from hub.ops.schedules import periodic_task_ensure, periodic_task_remove

NAME = "settlement: re-drive overdue transfers"


def create(apps, schema_editor):
    periodic_task_ensure(apps, name=NAME, task="hub.settlement.transfers_sweep", every_seconds=5,
                         description="Re-drives transfers whose due time passed: lost tasks, killed workers.")


def remove(apps, schema_editor):
    periodic_task_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [("settlement", "0004_protocol_outbox"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(create, remove)]
