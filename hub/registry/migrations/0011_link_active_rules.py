# A link is active only with its omnibus and mirror accounts: model validation said so, but an update, a
# bulk_create or raw SQL activated a link without them, and every instruction across it was then accepted,
# matched, and failed. A database that already holds such a link stops this migration, naming each one:
# add its accounts or deactivate it first. SQLite rebuilds no table here, so the other triggers stay.

from django.db import migrations

from hub.registry.dbfunctions import create_link_active_triggers, drop_link_active_triggers


class Migration(migrations.Migration):
    dependencies = [("registry", "0010_isin_known_prefixes")]

    operations = [migrations.RunPython(create_link_active_triggers, drop_link_active_triggers)]
