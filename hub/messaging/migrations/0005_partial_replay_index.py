"""Only a replay points back to its original message: a full index of ``original_id`` filed every other
message under NULL, once when it was recorded and again when its answer was written. The index now holds
the replays alone. As elsewhere, only PostgreSQL drops the foreign key's own index (Django's AlterField
would drop and re-add the constraint); other databases keep it beside the new one."""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = "messaging_inboundmessage_original_id_4b8c66ee"


def index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{DROPPED}"')


def index_restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'CREATE INDEX "{DROPPED}" ON "messaging_inboundmessage" ("original_id")')


class Migration(migrations.Migration):
    dependencies = [("messaging", "0004_replay_key_sender_index_in_unique")]

    operations = [
        migrations.AddIndex(
            model_name="inboundmessage",
            index=models.Index(
                condition=models.Q(("original__isnull", False)), fields=["original"], name="inbound_replays"
            ),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(index_drop, index_restore)],
            state_operations=[
                migrations.AlterField(
                    model_name="inboundmessage",
                    name="original",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        help_text="For a replay: the message first received",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="replays",
                        to="messaging.inboundmessage",
                    ),
                ),
            ],
        ),
    ]
