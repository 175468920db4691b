from django.db import migrations

from hub.ops.schedules import periodic_task_ensure, periodic_task_remove

NAME = "settlement: recycle unmatched instructions"


def create(apps, schema_editor):
    periodic_task_ensure(apps, name=NAME, task="hub.settlement.instructions_recycle", every_seconds=300,
                         description="Cancels instructions unmatched for 20 business days; re-drives lost matching.")


def remove(apps, schema_editor):
    periodic_task_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [("settlement", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(create, remove)]
