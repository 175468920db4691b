# A CSD's time zone must be a place's: not the server's own ('localtime'), 'posixrules' or 'Factory'. The
# CHECK constraint's function on PostgreSQL is redefined; SQLite's is the validator's, registered on connect.
# A CSD row that holds one already is not checked again: the validator refuses it at its next edit.

from django.db import migrations

from hub.registry.dbfunctions import timezone_function_any_name, timezone_function_places_only


class Migration(migrations.Migration):
    dependencies = [("registry", "0006_bic_unique_without_xxx")]

    operations = [migrations.RunPython(timezone_function_places_only, timezone_function_any_name)]
