from django.db import migrations

JSONB = """
CREATE OR REPLACE FUNCTION reconciliation_jsonb(value text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN value::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;  -- a record that is not JSON any more (tampered) reads as nothing, never an error
END $$;

CREATE OR REPLACE FUNCTION reconciliation_numeric(value text) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN value::numeric;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
"""

DROP = "DROP FUNCTION IF EXISTS reconciliation_jsonb(text); DROP FUNCTION IF EXISTS reconciliation_numeric(text);"


def helpers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(JSONB)


def helpers_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


def schedules(apps, schema_editor):
    from hub.reconciliation.services import reconciliation_schedules_ensure

    reconciliation_schedules_ensure(apps=apps)


def schedules_drop(apps, schema_editor):
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    task_model.objects.filter(name__startswith="reconciliation: ").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(helpers, helpers_drop),
        migrations.RunPython(schedules, schedules_drop),
    ]
