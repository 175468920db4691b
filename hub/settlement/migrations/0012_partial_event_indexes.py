"""A status event belongs to an instruction or to a transfer, never both, and the timeline is read by one
or the other. A full index of each column also files every event of the other kind, under NULL: each of
the dozen events a transfer makes wrote both indexes. Each index now holds the events whose column is set.

As in 0010, only PostgreSQL drops the foreign keys' own indexes (Django's AlterField would drop and re-add
the constraints, checking every row under lock); other databases keep them beside the new ones."""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = {
    "settlement_statusevent_instruction_id_63591f04": "instruction_id",
    "settlement_statusevent_transfer_id_aea0f2d8": "transfer_id",
}


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in DROPPED:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def indexes_restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, column in DROPPED.items():
            schema_editor.execute(f'CREATE INDEX "{name}" ON "settlement_statusevent" ("{column}")')


class Migration(migrations.Migration):
    dependencies = [("settlement", "0011_open_instruction_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="statusevent",
            index=models.Index(
                condition=models.Q(("instruction__isnull", False)),
                fields=["instruction"],
                name="event_of_instruction",
            ),
        ),
        migrations.AddIndex(
            model_name="statusevent",
            index=models.Index(
                condition=models.Q(("transfer__isnull", False)), fields=["transfer"], name="event_of_transfer"
            ),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(indexes_drop, indexes_restore)],
            state_operations=[
                migrations.AlterField(
                    model_name="statusevent",
                    name="instruction",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="settlement.instruction",
                    ),
                ),
                migrations.AlterField(
                    model_name="statusevent",
                    name="transfer",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="settlement.transfer",
                    ),
                ),
            ],
        ),
    ]
