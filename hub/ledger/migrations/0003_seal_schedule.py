"""The schedule of block sealing, stored in the database for Celery beat (django-celery-beat)."""

from django.conf import settings
from django.db import migrations

TASK_NAME = "ledger: seal pending entries and finalise blocks"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every = getattr(settings, "LEDGER_SEAL_INTERVAL_SECONDS", 2)
    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "hub.ledger.seal_blocks",
            "interval": interval,
            "enabled": True,
            "description": "Seals pending ledger entries into blocks, gets endorsements, anchors roots.",
            "expire_seconds": max(every * 5, 10),
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0002_append_only"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
