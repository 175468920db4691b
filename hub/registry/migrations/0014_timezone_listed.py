# The time zone rule's function on PostgreSQL holds the validator's list of zone names instead of reading
# pg_timezone_names, which read the server's time zone directory on every CSD write (hub/registry/
# dbfunctions.py). Reversed, it reads pg_timezone_names again, as migration 0007 left it.

from django.db import migrations

from hub.registry.dbfunctions import timezone_function_listed, timezone_function_places_only


class Migration(migrations.Migration):
    dependencies = [("registry", "0013_csd_token")]

    operations = [migrations.RunPython(timezone_function_listed, timezone_function_places_only)]
