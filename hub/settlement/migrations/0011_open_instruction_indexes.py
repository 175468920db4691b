"""An instruction is written again at every status move, and on PostgreSQL each write that changes an
indexed column adds an entry to every index whose condition the new row meets. Matching and recycling only
ever look for open instructions (accepted or unmatched), so their two indexes now hold those alone: the
moves to MATCHED, SETTLED and the rest skip them, and the indexes stay small. The participant's own index
goes too: ``instruction_unique_reference`` leads with the participant, and serves the same lookups.

As in 0010, only PostgreSQL drops the foreign key's index (Django's AlterField would drop and re-add the
constraint itself, checking every row under lock); other databases keep it."""

from django.db import migrations, models
import django.db.models.deletion

PARTICIPANT_INDEX = "settlement_instruction_participant_id_7f4f83aa"
OPEN = models.Q(("status__in", ("ACCEPTED", "UNMATCHED")))


def participant_index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{PARTICIPANT_INDEX}"')


def participant_index_restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX "{PARTICIPANT_INDEX}" ON "settlement_instruction" ("participant_id")'
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
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(participant_index_drop, participant_index_restore)],
            state_operations=[
                migrations.AlterField(
                    model_name="instruction",
                    name="participant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="instructions",
                        to="registry.participant",
                    ),
                ),
            ],
        ),
    ]
