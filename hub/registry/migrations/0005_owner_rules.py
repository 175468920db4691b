# A participant with accounts keeps its home CSD, and a link with accounts its CSDs: the accounts' triggers
# (0002) check an account's own writes only, so moving its owner left it at the wrong CSD.

from django.db import migrations

from hub.registry.dbfunctions import create_owner_triggers, drop_owner_triggers


class Migration(migrations.Migration):
    dependencies = [("registry", "0004_webhook_secret_required")]

    operations = [migrations.RunPython(create_owner_triggers, drop_owner_triggers)]
