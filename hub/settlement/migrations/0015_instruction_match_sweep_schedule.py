from django.db import migrations

from hub.ops.schedules import periodic_task_ensure, periodic_task_remove

NAME = "settlement: re-drive matching of accepted instructions"


def create(apps, schema_editor):
    periodic_task_ensure(
        apps,
        name=NAME,
        task="hub.settlement.instructions_match_sweep",
        every_seconds=10,
        description="Queues matching again for instructions still ACCEPTED past the grace: "
        "a matching task lost with the broker.",
    )


def remove(apps, schema_editor):
    periodic_task_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("settlement", "0014_transfer_started_at"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
