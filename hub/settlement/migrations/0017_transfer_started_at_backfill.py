"""Transfers already settling when 0014 added ``Transfer.started_at`` have none, and a transfer without it
was not held to the business day it started on: one preparing across the deploy (recycled for lack of
securities, or waiting for a CSD that is down) could still be reserved and anchored on a later day. Each
such transfer's start is on its timeline: the time of its MATCHED -> PREPARING event. Finished transfers
are left as they are (nothing reads it any more)."""

from django.db import migrations
from django.db.models import OuterRef, Subquery

STARTED = ("PREPARING", "PREPARED", "COMMITTING", "ABORTING")


def backfill(apps, schema_editor):
    Transfer = apps.get_model("settlement", "Transfer")
    StatusEvent = apps.get_model("settlement", "StatusEvent")
    started = (
        StatusEvent.objects.filter(transfer_id=OuterRef("pk"), from_status="MATCHED", to_status="PREPARING")
        .order_by("at", "id")
        .values("at")[:1]
    )
    Transfer.objects.filter(status__in=STARTED, started_at__isnull=True).update(started_at=Subquery(started))


class Migration(migrations.Migration):
    dependencies = [("settlement", "0016_leg_settlement_date")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
