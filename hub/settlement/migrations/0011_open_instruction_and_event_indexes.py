"""An instruction is written again at every status move, and a status event at every move of anything; on
PostgreSQL each row written adds an entry to every index whose condition it meets. Three changes:

- Matching and recycling only ever look for open instructions (accepted or unmatched), so their two
  indexes hold those alone: the moves to MATCHED, SETTLED and the rest skip them.
- An instruction's participant leads ``instruction_unique_reference``, which serves the same lookups: its
  own index goes.
- A status event belongs to an instruction or to a transfer, never both, and a timeline is read by one or
  the other. A full index of each column also filed every event of the other kind under NULL; each index
  now holds the events whose column is set.

As in 0010, only PostgreSQL drops the foreign keys' own indexes (Django's AlterField would drop and re-add
the constraints, checking every row under lock); other databases keep them beside the new ones."""

import django.db.models.deletion
from django.db import migrations, models

OPEN = models.Q(("status__in", ("ACCEPTED", "UNMATCHED")))
DROPPED = {
    "settlement_instruction_participant_id_7f4f83aa": ("settlement_instruction", "participant_id"),
    "settlement_statusevent_instruction_id_63591f04": ("settlement_statusevent", "instruction_id"),
    "settlement_statusevent_transfer_id_aea0f2d8": ("settlement_statusevent", "transfer_id"),
}


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in DROPPED:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def indexes_restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, (table, column) in DROPPED.items():
            schema_editor.execute(f'CREATE INDEX "{name}" ON "{table}" ("{column}")')


def _foreign_key(to: str, related_name: str, on_delete, *, null: bool = False) -> models.ForeignKey:
    """The field as the model now declares it: without an index of its own."""
    return models.ForeignKey(
        blank=null, db_index=False, null=null, on_delete=on_delete, related_name=related_name, to=to
    )


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_outbox_participant_index_in_unique"),
        ("registry", "0003_participant_credentials_and_webhook"),
        ("settlement", "0010_fewer_indexes_on_hot_tables"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="instruction", name="instruction_matching"),
        migrations.RemoveIndex(model_name="instruction", name="instruction_recycling"),
        migrations.AddIndex(
            model_name="instruction",
            index=models.Index(
                condition=OPEN, fields=["matching_key", "side", "status"], name="instruction_matching"
            ),
        ),
        migrations.AddIndex(
            model_name="instruction",
            index=models.Index(
                condition=OPEN, fields=["status", "match_deadline"], name="instruction_recycling"
            ),
        ),
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
                    model_name="instruction",
                    name="participant",
                    field=_foreign_key("registry.participant", "instructions", django.db.models.deletion.PROTECT),
                ),
                migrations.AlterField(
                    model_name="statusevent",
                    name="instruction",
                    field=_foreign_key(
                        "settlement.instruction", "events", django.db.models.deletion.CASCADE, null=True
                    ),
                ),
                migrations.AlterField(
                    model_name="statusevent",
                    name="transfer",
                    field=_foreign_key(
                        "settlement.transfer", "events", django.db.models.deletion.CASCADE, null=True
                    ),
                ),
            ],
        ),
    ]
