"""The database refuses edits of the ledger: entries are sealed once and never changed after; blocks and
endorsements are never changed; nothing is deleted. A superuser can still disable these triggers, which
is why ``manage.py ledger_verify`` recomputes the chain and names the first break."""

from django.db import migrations

ENTRY_FIELDS = ("id", "kind", "reference", "csds", "record", "record_hash", "appended_at")
FROZEN_TABLES = ("ledger_block", "ledger_endorsement")

POSTGRES_UP = [
    """
    CREATE OR REPLACE FUNCTION ledger_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'ledger entry % cannot be deleted: the ledger is append-only', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF OLD.block_id IS NOT NULL THEN
            RAISE EXCEPTION 'ledger entry % is sealed in a block and cannot change', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.block_id IS NULL OR %(changed)s THEN
            RAISE EXCEPTION 'ledger entry % may only be sealed into a block, nothing else', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$;
    """.replace(
        "%(changed)s", " OR ".join(f"NEW.{name} IS DISTINCT FROM OLD.{name}" for name in ENTRY_FIELDS)
    ),
    """
    CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry
        FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only();
    """,
    """
    CREATE OR REPLACE FUNCTION ledger_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% of a row of % refused: the ledger is append-only', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$;
    """,
    *(
        f"CREATE TRIGGER {table}_frozen BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION ledger_frozen();"
        for table in FROZEN_TABLES
    ),
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry;",
    "DROP FUNCTION IF EXISTS ledger_entry_append_only();",
    *(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table};" for table in FROZEN_TABLES),
    "DROP FUNCTION IF EXISTS ledger_frozen();",
]

SQLITE_UP = [
    """
    CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON ledger_entry
    BEGIN SELECT RAISE(ABORT, 'ledger entries cannot be deleted: the ledger is append-only'); END;
    """,
    """
    CREATE TRIGGER ledger_entry_sealed_once BEFORE UPDATE ON ledger_entry
    WHEN OLD.block_id IS NOT NULL OR NEW.block_id IS NULL OR %(changed)s
    BEGIN SELECT RAISE(ABORT, 'a ledger entry may only be sealed into a block, once'); END;
    """.replace("%(changed)s", " OR ".join(f"NEW.{name} IS NOT OLD.{name}" for name in ENTRY_FIELDS)),
    *(
        f"CREATE TRIGGER {table}_frozen_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
        for table in FROZEN_TABLES
        for op in ("UPDATE", "DELETE")
    ),
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS ledger_entry_no_delete;",
    "DROP TRIGGER IF EXISTS ledger_entry_sealed_once;",
    *(f"DROP TRIGGER IF EXISTS {table}_frozen_{op.lower()};" for table in FROZEN_TABLES for op in ("UPDATE", "DELETE")),
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise NotImplementedError(f"no append-only triggers for {schema_editor.connection.vendor}")
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}),
            _run({"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN}),
        )
    ]
