from django.db import migrations

from hub.registry.dbfunctions import create_triggers, drop_triggers


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
