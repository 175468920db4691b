"""Transfers cancelled by both parties had kept their due time, so the sweeper re-drove each of them on every
pass, for a claim that always failed: a finished transfer is due no more."""

from django.db import migrations

FINISHED = ("SETTLED", "FAILED", "CANCELLED")


def clear(apps, schema_editor):
    Transfer = apps.get_model("settlement", "Transfer")
    Transfer.objects.filter(status__in=FINISHED, due_at__isnull=False).update(due_at=None)


class Migration(migrations.Migration):
    dependencies = [("settlement", "0012_open_instructions_keyed_by_registered_bic")]

    operations = [migrations.RunPython(clear, migrations.RunPython.noop)]
