"""``manage.py reconcile``, the Celery tasks called directly, and each CSD's beat schedules."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from hub.reconciliation import services, tasks
from hub.reconciliation.models import Run
from hub.registry.calendars import csd_local_now
from hub.registry.models import CSD

from .conftest import SHARES, units


@pytest.fixture
def adapters_of(world, monkeypatch):
    """The hub's adapters reach the world's reference ledgers (the edge: where the hub finds a CSD)."""
    monkeypatch.setattr(services, "_default_adapter", world.adapter_for)
    return world


def test_reconcile_one_csd_prints_the_breaks_it_sees(adapters_of):
    today = csd_local_now(CSD.objects.get(code="STRATE")).date().isoformat()  # the command runs on real time
    adapters_of.sql(
        "STRATE",
        "INSERT INTO refcsd_postings (reference, kind, isin, debit_account, credit_account, quantity,"
        " from_blocked, settlement_date, booked_at) VALUES ('GHOST-1', 'DELIVERY', :isin, 'MIRROR-NSD',"
        " 'ISSUANCE', :q, false, :today, :today)",
        isin=SHARES,
        q=units(7),
        today=today,
    )
    out = io.StringIO()
    call_command("reconcile", "--csd", "strate", stdout=out)
    run = Run.objects.order_by("-id").first()
    assert (run.csd.code, run.kind, run.requested_by, run.status) == ("STRATE", "DEMAND", "command", "DONE")
    assert (
        f"MV_UNKN STRATE {SHARES} MIRROR-NSD GHOST-1: expected 0.000000, actual -7.000000" in out.getvalue()
    )


def test_reconcile_an_unknown_csd_or_a_csd_it_cannot_reach_exits_with_the_reason(db, world):
    with pytest.raises(CommandError, match="no CSD NOPE"):
        call_command("reconcile", "--csd", "NOPE")
    with pytest.raises(CommandError, match="has no adapter_config base_url"):
        call_command("reconcile", "--csd", "NSD")  # the demo rows were never exported to reference CSDs
    failed = Run.objects.order_by("-id").first()
    assert failed.status == "FAILED" and "base_url" in failed.error


def test_the_scheduled_task_runs_one_csd_and_the_on_demand_task_runs_a_queued_run(adapters_of):
    run_id = tasks.run_scheduled("NSD", "INTRADAY")
    assert Run.objects.get(pk=run_id).status == "DONE"
    queued = services.run_request(csd=None, kind=Run.Kind.ON_DEMAND, requested_by="alice", enqueue=False)
    tasks.run_execute_task(queued.pk)
    queued.refresh_from_db()
    assert queued.status == "DONE" and queued.cross_checks and queued.breaks_seen == 0


def test_every_csd_gets_an_intraday_interval_and_an_end_of_day_crontab_in_its_own_time_zone(db, world):
    assert tasks.schedules_sync() == CSD.objects.count() == 5
    nsd = PeriodicTask.objects.get(name="reconciliation: NSD end of day")
    assert (nsd.crontab.hour, nsd.crontab.minute, str(nsd.crontab.timezone)) == ("19", "0", "Europe/Moscow")
    assert json.loads(nsd.kwargs) == {"csd": "NSD", "kind": "EOD"}
    strate = PeriodicTask.objects.get(name="reconciliation: STRATE intraday")
    assert (
        strate.interval.every == 900 and strate.enabled and strate.task == "hub.reconciliation.run_scheduled"
    )
    assert PeriodicTask.objects.filter(name="reconciliation: keep every CSD's schedules").exists()
    CSD.objects.filter(code="KACD").update(status="SUSPENDED")
    services.reconciliation_schedules_ensure()
    assert not PeriodicTask.objects.get(name="reconciliation: KACD intraday").enabled
    assert PeriodicTask.objects.filter(name__startswith="reconciliation: ").count() == 11
    out = io.StringIO()
    call_command("reconcile", "--schedules", stdout=out)  # idempotent: nothing new
    assert out.getvalue() == "schedules in place for 5 CSDs\n"
    assert PeriodicTask.objects.filter(name__startswith="reconciliation: ").count() == 11
