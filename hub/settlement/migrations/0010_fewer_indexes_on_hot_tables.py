"""Instructions, legs and transfers are written again on every status move, and each write that changes
an indexed column (the status does) adds an entry to every index of the table. Django gives every foreign
key an index; these are the ones no query looks rows up by, so they go: five of twelve on instructions, four
of ten on legs (and the second, LIKE, index of leg_id, whose uniqueness is now a named constraint), one of
six on transfers. The foreign key constraints themselves stay.

On PostgreSQL only the indexes are dropped: Django's own AlterField would also drop and re-add each foreign
key, checking every row again under lock. Other databases (SQLite, the embedded default) keep their indexes;
they are only redundant there."""

from django.db import migrations, models
import django.db.models.deletion

DROPPED = {
    "settlement_instruction_account_id_4015436a": ("settlement_instruction", "account_id"),
    "settlement_instruction_counterparty_csd_id_592770e1": ("settlement_instruction", "counterparty_csd_id"),
    "settlement_instruction_csd_id_972b29f9": ("settlement_instruction", "csd_id"),
    "settlement_instruction_security_id_73ec9e0b": ("settlement_instruction", "security_id"),
    "settlement_instruction_transfer_id_031b139b": ("settlement_instruction", "transfer_id"),
    "settlement_leg_credit_account_id_f77b39c9": ("settlement_leg", "credit_account_id"),
    "settlement_leg_debit_account_id_52726078": ("settlement_leg", "debit_account_id"),
    "settlement_leg_security_id_3526e71d": ("settlement_leg", "security_id"),
    "settlement_leg_transfer_id_76a125dc": ("settlement_leg", "transfer_id"),
    "settlement_transfer_security_id_f7ad8899": ("settlement_transfer", "security_id"),
}


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.execute('CREATE UNIQUE INDEX "leg_unique_id" ON "settlement_leg" ("leg_id")')
        return
    for name in DROPPED:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
    schema_editor.execute('DROP INDEX IF EXISTS "settlement_leg_leg_id_0420dce6_like"')
    schema_editor.execute(
        'ALTER TABLE "settlement_leg" RENAME CONSTRAINT "settlement_leg_leg_id_key" TO "leg_unique_id"'
    )


def indexes_restore(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.execute('DROP INDEX "leg_unique_id"')
        return
    schema_editor.execute(
        'ALTER TABLE "settlement_leg" RENAME CONSTRAINT "leg_unique_id" TO "settlement_leg_leg_id_key"'
    )
    schema_editor.execute(
        'CREATE INDEX "settlement_leg_leg_id_0420dce6_like" ON "settlement_leg" ("leg_id" varchar_pattern_ops)'
    )
    for name, (table, column) in DROPPED.items():
        schema_editor.execute(f'CREATE INDEX "{name}" ON "{table}" ("{column}")')


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_participant_credentials_and_webhook"),
        ("settlement", "0009_leg_heap_only_updates"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(indexes_drop, indexes_restore)],
            state_operations=[
                migrations.AlterField(
                    model_name="instruction",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="instructions",
                        to="registry.securitiesaccount",
                    ),
                ),
                migrations.AlterField(
                    model_name="instruction",
                    name="counterparty_csd",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.csd",
                    ),
                ),
                migrations.AlterField(
                    model_name="instruction",
                    name="csd",
                    field=models.ForeignKey(
                        db_index=False,
                        help_text="The participant's CSD",
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.csd",
                    ),
                ),
                migrations.AlterField(
                    model_name="instruction",
                    name="security",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.security",
                    ),
                ),
                migrations.AlterField(
                    model_name="instruction",
                    name="transfer",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="settlement.transfer",
                    ),
                ),
                migrations.AlterField(
                    model_name="leg",
                    name="credit_account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.securitiesaccount",
                    ),
                ),
                migrations.AlterField(
                    model_name="leg",
                    name="debit_account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.securitiesaccount",
                    ),
                ),
                migrations.AlterField(
                    model_name="leg",
                    name="leg_id",
                    field=models.CharField(max_length=16),
                ),
                migrations.AlterField(
                    model_name="leg",
                    name="security",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.security",
                    ),
                ),
                migrations.AlterField(
                    model_name="leg",
                    name="transfer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="legs",
                        to="settlement.transfer",
                    ),
                ),
                migrations.AlterField(
                    model_name="transfer",
                    name="security",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="transfers",
                        to="registry.security",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="leg",
                    constraint=models.UniqueConstraint(fields=("leg_id",), name="leg_unique_id"),
                ),
            ],
        ),
    ]
