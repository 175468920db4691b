"""An end-of-day run closes the business day being closed, whenever it runs: the last business day whose
cut-off is at or before the run's time less half of ``RECONCILIATION_EOD_DELAY_MINUTES`` (60). Not the date
of the run: with a cut-off late in the evening the run falls after local midnight, and a task can be
delivered late; nor the day before when the run comes a moment before its crontab.

The world (see conftest): NSD (Moscow, UTC+3) closed Wednesday 25 November; transfer T settled on Thursday.
"""

import datetime as dt

from django_celery_beat.models import PeriodicTask

from hub.reconciliation.models import PER_CSD_KINDS, Break, Statement
from hub.reconciliation.services import reconciliation_schedules_ensure
from hub.reconciliation.statements import closing_day
from hub.registry.models import CSD
from tests.hub.settlement.messages import NSD_A, STRATE_A

WEDNESDAY, THURSDAY, FRIDAY = dt.date(2026, 11, 25), dt.date(2026, 11, 26), dt.date(2026, 11, 27)
MOSCOW = dt.timezone(dt.timedelta(hours=3))


def at_moscow(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=MOSCOW).astimezone(dt.UTC)


def nsd_closes(world):
    """NSD's end-of-day statements, in the order they were taken: (day closed, movements until)."""
    rows = Statement.objects.filter(csd__code="NSD", role="CURRENT", end_of_day=True).order_by("id")
    return [(s.as_of, s.movements_until) for s in rows]


def test_the_day_closed_is_the_last_business_day_whose_cut_off_is_past_by_the_delay(db):
    from django.core.management import call_command

    call_command("seed_demo", verbosity=0)
    nsd = CSD.objects.get(code="NSD")  # cut-off 18:00
    assert closing_day(nsd, now=at_moscow(THURSDAY, 19, 0)) == THURSDAY
    assert closing_day(nsd, now=at_moscow(THURSDAY, 18, 29)) == WEDNESDAY  # half the delay has not passed
    assert closing_day(nsd, now=at_moscow(FRIDAY, 8, 0)) == THURSDAY  # a task delivered the next morning
    assert closing_day(nsd, now=at_moscow(dt.date(2026, 11, 29), 19, 0)) == FRIDAY  # Sunday
    CSD.objects.filter(pk=nsd.pk).update(settlement_cutoff=dt.time(23, 30))
    nsd.refresh_from_db()
    assert closing_day(nsd, now=at_moscow(FRIDAY, 0, 30)) == THURSDAY  # past midnight


def test_a_run_fired_a_moment_before_its_crontab_still_closes_the_day_it_is_for(db, monkeypatch):
    from django.core.management import call_command

    call_command("seed_demo", verbosity=0)
    nsd = CSD.objects.get(code="NSD")  # cut-off 18:00, crontab at 19:00 (the delay of 60 minutes)
    early = dt.timedelta(milliseconds=1)  # beat's clock a little ahead of the worker's
    assert closing_day(nsd, now=at_moscow(THURSDAY, 19, 0) - early) == THURSDAY
    # the other edge: cut-off plus half the delay
    assert closing_day(nsd, now=at_moscow(THURSDAY, 18, 30)) == THURSDAY
    assert closing_day(nsd, now=at_moscow(THURSDAY, 18, 30) - early) == WEDNESDAY
    # the delay raised to two hours while beat still fires the crontab of one hour
    monkeypatch.setenv("RECONCILIATION_EOD_DELAY_MINUTES", "120")
    assert closing_day(nsd, now=at_moscow(THURSDAY, 19, 0)) == THURSDAY
    monkeypatch.delenv("RECONCILIATION_EOD_DELAY_MINUTES")
    CSD.objects.filter(pk=nsd.pk).update(settlement_cutoff=dt.time(23, 30))
    nsd.refresh_from_db()
    assert closing_day(nsd, now=at_moscow(FRIDAY, 0, 30) - early) == THURSDAY  # past midnight


def test_an_end_of_day_run_past_local_midnight_closes_the_day_before_and_the_next_day_starts_from_it(world):
    CSD.objects.filter(code="NSD").update(settlement_cutoff=dt.time(23, 30))
    reconciliation_schedules_ensure()
    crontab = PeriodicTask.objects.get(name="reconciliation: NSD end of day").crontab
    assert (crontab.hour, crontab.minute, str(crontab.timezone)) == ("0", "30", "Europe/Moscow")

    world.reconcile(csd="NSD", kind="EOD", now=at_moscow(THURSDAY, 0, 30))  # Wednesday's close, again
    world.settle(NSD_A, STRATE_A, tx="THURSDAY")  # on Thursday, after that run
    world.reconcile(csd="NSD", kind="EOD", now=at_moscow(FRIDAY, 0, 30))  # Thursday's close
    friday = world.reconcile(csd="NSD", now=at_moscow(FRIDAY, 12, 0))
    assert nsd_closes(world) == [(WEDNESDAY, WEDNESDAY), (WEDNESDAY, WEDNESDAY), (THURSDAY, THURSDAY)]
    current = Statement.objects.get(run=friday, role="CURRENT")
    assert (current.baseline.as_of, current.movements_since) == (THURSDAY, FRIDAY)
    assert not Break.objects.filter(kind__in=PER_CSD_KINDS).exists()
