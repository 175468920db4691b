from django.db import migrations

from hub.ops.schedules import periodic_task_ensure, periodic_task_remove

NAME = "settlement: seal, endorse and release committable transfers"


def create(apps, schema_editor):
    periodic_task_ensure(apps, name=NAME, task="hub.settlement.transfers_anchor_and_release", every_seconds=2,
                         description="Seals the ledger, gets endorsements, releases transfers whose commit is final.")


def remove(apps, schema_editor):
    periodic_task_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [("settlement", "0005_sweep_schedule"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(create, remove)]
