"""A replay key's sender is the leading column of ``replay_key_unique_per_sender``, which serves every
lookup by sender: the foreign key's own index only cost a write per key. As elsewhere, only PostgreSQL
drops it (Django's AlterField would drop and re-add the constraint itself); other databases keep it."""

from django.db import migrations, models
import django.db.models.deletion

SENDER_INDEX = "messaging_replaykey_sender_id_737422ec"


def sender_index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{SENDER_INDEX}"')


def sender_index_restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'CREATE INDEX "{SENDER_INDEX}" ON "messaging_replaykey" ("sender_id")')


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_outbox_participant_index_in_unique"),
        ("registry", "0003_participant_credentials_and_webhook"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(sender_index_drop, sender_index_restore)],
            state_operations=[
                migrations.AlterField(
                    model_name="replaykey",
                    name="sender",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.participant",
                    ),
                ),
            ],
        ),
    ]
