"""The schedule of block sealing, stored in the database for Celery beat (django-celery-beat)."""

from django.conf import settings
from django.db import migrations

from hub.ops.schedules import periodic_task_ensure, periodic_task_remove

TASK_NAME = "ledger: seal pending entries and finalise blocks"


def create_schedule(apps, schema_editor):
    periodic_task_ensure(
        apps,
        name=TASK_NAME,
        task="hub.ledger.seal_blocks",
        every_seconds=getattr(settings, "LEDGER_SEAL_INTERVAL_SECONDS", 2),
        description="Seals pending ledger entries into blocks, gets endorsements, anchors roots.",
    )


def remove_schedule(apps, schema_editor):
    periodic_task_remove(apps, name=TASK_NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0002_append_only"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
