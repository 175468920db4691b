"""A break's life: it keeps its first-seen time while the difference recurs, is resolved by the run that no
longer sees it, and leaves an audit trail; while open past the end of the next business day it suspends
its ISIN at its CSD and down the chain of links, and resolving it lifts the suspension."""

import datetime as dt
from decimal import Decimal as D

import pytest

from hub.reconciliation import errors
from hub.reconciliation.models import Break
from hub.reconciliation.selectors import (
    isin_suspended,
    isin_suspended_csds,
    isins_suspended_csds,
    suspensions_in_force,
)
from hub.reconciliation.services import break_acknowledge, break_resolve
from hub.registry.demo import demo_isin

from .conftest import LATER_THAT_DAY, SHARES, undue_creation, units

# a break first seen on Thursday 26 November suspends at the end of Friday 27, in the CSD's time zone
END_OF_FRIDAY_IN_MOSCOW = dt.datetime(2026, 11, 27, 21, 0, tzinfo=dt.UTC)
END_OF_FRIDAY_IN_JOHANNESBURG = dt.datetime(2026, 11, 27, 22, 0, tzinfo=dt.UTC)
STRATE_SHARES = demo_isin("ZA", "01")


def ghost_movement_at_strate(world):
    world.sql(
        "STRATE",
        "INSERT INTO refcsd_postings (reference, kind, isin, debit_account, credit_account, quantity,"
        " from_blocked, settlement_date, booked_at) VALUES ('GHOST-1', 'DELIVERY', :isin, 'MIRROR-NSD',"
        " 'ISSUANCE', :q, false, '2026-11-26', '2026-11-26')",
        isin=SHARES,
        q=units(7),
    )


def test_a_recurring_difference_keeps_its_first_seen_time_and_takes_the_latest_figures(world):
    undue_creation(world)
    first = world.reconcile()
    brk = Break.objects.get()
    world.sql("NSD", "UPDATE refcsd_postings SET quantity = :q WHERE reference = 'UNDUE-1'", q=units(800))
    second = world.reconcile(now=LATER_THAT_DAY + dt.timedelta(minutes=15))
    again = Break.objects.get()
    assert again.pk == brk.pk and (first.breaks_opened, second.breaks_opened, second.breaks_seen) == (1, 0, 1)
    assert again.first_seen_at == brk.first_seen_at and again.first_seen_run_id == first.pk
    assert again.last_seen_run_id == second.pk and again.difference == D(800)
    assert again.suspends_at == END_OF_FRIDAY_IN_MOSCOW


def test_a_difference_that_disappears_is_resolved_by_the_next_run_with_an_audit_trail(world):
    undue_creation(world)
    world.reconcile()
    brk = Break.objects.get()
    break_acknowledge(break_id=brk.pk, actor="alice", note="asked NSD about UNDUE-1")
    world.sql("NSD", "DELETE FROM refcsd_postings WHERE reference = 'UNDUE-1'")  # NSD reverses it
    run = world.reconcile(now=LATER_THAT_DAY + dt.timedelta(minutes=15))
    brk.refresh_from_db()
    assert brk.status == "RESOLVED" and run.breaks_resolved == 1 and run.breaks_seen == 0
    trail = list(brk.events.values_list("from_status", "to_status", "actor", "note"))
    assert trail == [
        ("", "OPEN", "system", f"found by run {brk.first_seen_run_id}"),
        ("OPEN", "ACK", "alice", "asked NSD about UNDUE-1"),
        ("ACK", "RESOLVED", "system", f"no longer seen by run {run.pk}"),
    ]


def test_an_operator_resolves_with_a_reason_and_cannot_move_a_resolved_break(world):
    undue_creation(world)
    world.reconcile()
    brk = Break.objects.get()
    with pytest.raises(errors.NoteRequired):
        break_resolve(break_id=brk.pk, actor="alice", note=" ")
    break_resolve(break_id=brk.pk, actor="alice", note="NSD confirmed a late issue; registry updated")
    with pytest.raises(errors.BreakStatusConflict):
        break_acknowledge(break_id=brk.pk, actor="bob")
    # the difference is still there: the next run opens a new break for it
    world.reconcile(now=LATER_THAT_DAY + dt.timedelta(minutes=15))
    assert list(Break.objects.order_by("id").values_list("status", flat=True)) == ["RESOLVED", "OPEN"]


def test_an_undue_creation_open_at_the_end_of_the_next_business_day_suspends_the_isin_down_the_chain(world):
    undue_creation(world)
    world.reconcile()
    assert not isin_suspended(SHARES, now=END_OF_FRIDAY_IN_MOSCOW - dt.timedelta(seconds=1))
    assert isin_suspended(SHARES, now=END_OF_FRIDAY_IN_MOSCOW)
    # rooted at the issuer CSD, it spreads to every CSD holding the ISIN through it
    assert isin_suspended_csds(SHARES, now=END_OF_FRIDAY_IN_MOSCOW) == ["KACD", "MCDR", "NSD", "STRATE"]
    assert isin_suspended(SHARES, csd_codes=["STRATE", "KACD"], now=END_OF_FRIDAY_IN_MOSCOW)
    assert not isin_suspended(STRATE_SHARES, now=END_OF_FRIDAY_IN_MOSCOW)
    # the settlement protocol's read, one query for a batch's ISINs: only the suspended ones are named
    assert isins_suspended_csds([SHARES, STRATE_SHARES], now=END_OF_FRIDAY_IN_MOSCOW) == {
        SHARES: {"KACD", "MCDR", "NSD", "STRATE"}
    }
    brk = Break.objects.get()
    break_acknowledge(break_id=brk.pk, actor="alice")  # acknowledged is still open: still suspended
    assert suspensions_in_force(now=END_OF_FRIDAY_IN_MOSCOW) == [
        {"isin": SHARES, "csds": ["KACD", "MCDR", "NSD", "STRATE"], "breaks": [brk.pk]}
    ]
    break_resolve(break_id=brk.pk, actor="alice", note="reversed by NSD")
    assert not isin_suspended(SHARES, now=END_OF_FRIDAY_IN_MOSCOW)  # released at once


def test_a_suspension_at_an_investor_csd_does_not_spread_up_to_the_issuer_or_sideways(world):
    ghost_movement_at_strate(world)
    world.reconcile()
    brk = Break.objects.get()
    assert (brk.kind, brk.csd.code, brk.suspends_at) == ("MV_UNKN", "STRATE", END_OF_FRIDAY_IN_JOHANNESBURG)
    later = END_OF_FRIDAY_IN_JOHANNESBURG
    assert isin_suspended_csds(SHARES, now=later) == ["STRATE"]
    assert isins_suspended_csds([STRATE_SHARES, SHARES], now=later) == {SHARES: {"STRATE"}}
    assert isin_suspended(SHARES, csd_codes=["NSD", "STRATE"], now=later)
    assert not isin_suspended(SHARES, csd_codes=["NSD", "KACD"], now=later)


def test_a_run_that_no_longer_sees_the_difference_releases_the_suspension(world):
    ghost_movement_at_strate(world)
    world.reconcile()
    assert isin_suspended(SHARES, now=END_OF_FRIDAY_IN_JOHANNESBURG)
    world.sql("STRATE", "DELETE FROM refcsd_postings WHERE reference = 'GHOST-1'")
    world.reconcile(now=LATER_THAT_DAY + dt.timedelta(hours=1))
    assert not isin_suspended(SHARES, now=END_OF_FRIDAY_IN_JOHANNESBURG)


THURSDAY_EVENING = dt.datetime(2026, 11, 26, 17, 0, tzinfo=dt.UTC)  # every CSD past its cut-off
FRIDAY_MORNING = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.UTC)
FRIDAY = dt.date(2026, 11, 27)


def test_a_difference_of_one_day_is_not_resolved_by_the_next_days_run_that_cannot_see_it(world):
    # Thursday's ghost movement is in Thursday's close; Friday's run starts from that close and looks at
    # Friday's movements only: not seeing it again is no sign that it was put right
    ghost_movement_at_strate(world)
    world.reconcile()
    world.reconcile(now=THURSDAY_EVENING, kind="EOD")
    brk = Break.objects.get()
    assert brk.checked_from == dt.date(2026, 11, 26)
    world.reconcile(now=FRIDAY_MORNING)
    brk.refresh_from_db()
    assert brk.status == "OPEN" and not brk.events.filter(to_status="RESOLVED").exists()
    assert isin_suspended_csds(SHARES, now=END_OF_FRIDAY_IN_JOHANNESBURG) == ["STRATE"]


def test_an_issued_total_break_is_not_resolved_by_a_run_that_skipped_its_check(world):
    from hub.registry.models import CSD, SecuritiesAccount

    undue_creation(world)
    world.reconcile()
    brk = Break.objects.get(kind="ISSUED")
    kacd = CSD.objects.get(code="KACD")
    owner = SecuritiesAccount.objects.filter(csd=kacd, kind="OWN").first().participant
    # an account the registry has and KACD does not know: a gap, so the issued total cannot be checked
    SecuritiesAccount.objects.create(csd=kacd, number="NEW-OWN-1", kind="OWN", participant=owner)
    skipped = world.reconcile(now=LATER_THAT_DAY + dt.timedelta(minutes=15))
    assert "NEW-OWN-1" in skipped.notes
    brk.refresh_from_db()
    assert brk.status == "OPEN"
    assert isin_suspended(SHARES, now=END_OF_FRIDAY_IN_MOSCOW)


def test_a_late_close_of_the_day_before_does_not_resolve_a_difference_of_the_day_after_it(world):
    # Friday morning, Thursday not closed yet: the runs look at Thursday and Friday. A ghost movement of
    # Friday at Strate is found in that window
    world.clock = FRIDAY_MORNING
    world.sql(
        "STRATE",
        "INSERT INTO refcsd_postings (reference, kind, isin, debit_account, credit_account, quantity,"
        " from_blocked, settlement_date, booked_at) VALUES ('GHOST-FRI', 'DELIVERY', :isin, 'MIRROR-NSD',"
        " 'ISSUANCE', :q, false, '2026-11-27', '2026-11-27')",
        isin=SHARES,
        q=units(7),
    )
    world.reconcile(now=FRIDAY_MORNING)
    brk = Break.objects.get()
    assert (brk.kind, brk.checked_from, brk.checked_until) == ("MV_UNKN", dt.date(2026, 11, 26), FRIDAY)
    # then Thursday's close, taken late, looks at Thursday alone: it cannot see Friday's movement
    late = world.reconcile(csd="STRATE", kind="EOD", now=FRIDAY_MORNING + dt.timedelta(minutes=10))
    brk.refresh_from_db()
    assert brk.status == "OPEN" and late.breaks_resolved == 0
    # and the next run, from Thursday's close, finds the same break: first seen when it was
    again = world.reconcile(now=FRIDAY_MORNING + dt.timedelta(minutes=20))
    assert again.breaks_opened == 0 and list(Break.objects.values_list("pk", "status")) == [(brk.pk, "OPEN")]
    brk.refresh_from_db()
    assert brk.first_seen_at == FRIDAY_MORNING
