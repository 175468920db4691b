# A security with positions keeps its issuer CSD: its issuance account and the omnibus accounts holding it
# are there, and every investor CSD holds it through a link to that CSD.

from django.db import migrations

from hub.registry.dbfunctions import create_security_trigger, drop_security_trigger


class Migration(migrations.Migration):
    dependencies = [("registry", "0007_timezone_places_only")]

    operations = [migrations.RunPython(create_security_trigger, drop_security_trigger)]
