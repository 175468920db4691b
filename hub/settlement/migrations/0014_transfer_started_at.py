"""When settlement of a transfer started (MATCHED -> PREPARING), on the protocol's clock: a transfer still
preparing is checked again, before its legs are reserved and before its commit decision is anchored, to be
in the business day it started on at every CSD its legs post at. Transfers that started before this column
existed have none here; 0017 takes theirs from their timeline."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("settlement", "0013_finished_transfers_due_no_more")]

    operations = [
        migrations.AddField(
            model_name="transfer",
            name="started_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When settlement started (MATCHED -> PREPARING), on the protocol's clock: the business "
                "day it started on at each CSD is the one its legs must be reserved and anchored in",
                null=True,
            ),
        ),
    ]
