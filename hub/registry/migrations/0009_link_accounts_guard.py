# An active link keeps its omnibus and mirror accounts: every transfer through it plans its legs on them, and
# deleting or moving one (in the admin, or around the ORM) broke those transfers and the link's invariant.

from django.db import migrations

from hub.registry.dbfunctions import create_link_account_triggers, drop_link_account_triggers


class Migration(migrations.Migration):
    dependencies = [("registry", "0008_security_issuer_rules")]

    operations = [migrations.RunPython(create_link_account_triggers, drop_link_account_triggers)]
