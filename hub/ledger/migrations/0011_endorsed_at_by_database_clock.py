"""An endorsement's ``endorsed_at`` is set by the service that stores it (the database's clock, read under
the lock that orders it against a change of the CSD's key), no longer by ``auto_now_add``.

Only Django's state changes: neither default lives in the database. Altering the field for real would make
SQLite rebuild ``ledger_endorsement``, and the rebuild drops the table's append-only triggers
(``0002``)."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0010_anchor_mined_and_conflict_alarm"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="endorsement",
                    name="endorsed_at",
                    field=models.DateTimeField(default=django.utils.timezone.now),
                ),
            ],
        ),
    ]
