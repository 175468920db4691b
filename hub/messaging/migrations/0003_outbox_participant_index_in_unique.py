"""An outbox message's participant needs no index of its own: it is the first column of
outbound_sequence_unique, which every pull reads. On PostgreSQL the index is dropped (the foreign key stays,
unchecked again); other databases keep it."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "messaging_outboundmessage_participant_id_77467bea"


def index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


def index_restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'CREATE INDEX "{INDEX}" ON "messaging_outboundmessage" ("participant_id")')


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0002_webhook_sweep_schedule"),
        ("registry", "0003_participant_credentials_and_webhook"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(index_drop, index_restore)],
            state_operations=[
                migrations.AlterField(
                    model_name="outboundmessage",
                    name="participant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="outbox",
                        to="registry.participant",
                    ),
                ),
            ],
        ),
    ]
