"""On PostgreSQL, the entry trigger's condition moves into the trigger's WHEN clause: sealing updates
thousands of rows per block, and a condition the executor evaluates itself costs far less than a call into
PL/pgSQL per row. Same rules as 0002 (SQLite's triggers already work this way)."""

from django.db import migrations

ENTRY_FIELDS = ("id", "kind", "reference", "csds", "record", "record_hash", "appended_at")
CHANGED = " OR ".join(f"NEW.{name} IS DISTINCT FROM OLD.{name}" for name in ENTRY_FIELDS)

UP = [
    "DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry;",
    "CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON ledger_entry "
    "FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only();",
    "CREATE TRIGGER ledger_entry_sealed_once BEFORE UPDATE ON ledger_entry FOR EACH ROW "
    f"WHEN (OLD.block_id IS NOT NULL OR NEW.block_id IS NULL OR {CHANGED}) "
    "EXECUTE FUNCTION ledger_entry_append_only();",
]
DOWN = [
    "DROP TRIGGER IF EXISTS ledger_entry_no_delete ON ledger_entry;",
    "DROP TRIGGER IF EXISTS ledger_entry_sealed_once ON ledger_entry;",
    "CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry "
    "FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only();",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_seal_schedule")]

    operations = [migrations.RunPython(_run(UP), _run(DOWN))]
