"""Two indexes that cost a write per row and served no lookup of their own:

- a replay key's sender leads ``replay_key_unique_per_sender``, which serves every lookup by sender, so
  the foreign key's own index goes;
- only a replay points back to its original message, yet a full index of ``original_id`` filed every
  other message under NULL, once when it was recorded and again when its answer was written: the index
  now holds the replays alone.

As elsewhere, only PostgreSQL drops the foreign keys' own indexes (Django's AlterField would drop and
re-add the constraints); other databases keep them."""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = {
    "messaging_replaykey_sender_id_737422ec": ("messaging_replaykey", "sender_id"),
    "messaging_inboundmessage_original_id_4b8c66ee": ("messaging_inboundmessage", "original_id"),
}


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in DROPPED:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def indexes_restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, (table, column) in DROPPED.items():
            schema_editor.execute(f'CREATE INDEX "{name}" ON "{table}" ("{column}")')


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_outbox_participant_index_in_unique"),
        ("registry", "0003_participant_credentials_and_webhook"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="inboundmessage",
            index=models.Index(
                condition=models.Q(("original__isnull", False)), fields=["original"], name="inbound_replays"
            ),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(indexes_drop, indexes_restore)],
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
