"""The checks across CSDs (2, OMNIBUS, and 3, ISSUED) compare only statements that can be compared: each
CSD's latest statement, provided it is recent. A link or an ISIN that needs a CSD whose figures are not
known now is left out, the run's notes say which and why, the run is not marked as having made the cross
checks, and a break found there earlier is neither resolved nor joined by a new one.

The world (see conftest): transfer T moved 100 of SHARES (issued at NSD) from NSD to Strate on Thursday;
every CSD closed Wednesday. Links: Strate, KACD and MCDR hold NSD's securities; NSD, CSCS and MCDR hold
Strate's; NSD holds KACD's; Strate holds CSCS's and MCDR's.
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from csd_adapters import base as csd_base
from csd_adapters.inprocess import LedgerAdapter
from hub.reconciliation.models import Break
from hub.reconciliation.selectors import isin_suspended
from hub.registry.demo import demo_isin

from .conftest import LATER_THAT_DAY, SHARES, breaks, units

BOND = demo_isin("RU", "02")  # issued at NSD too
TUESDAY = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)  # any break of Thursday would suspend by then


class Down(LedgerAdapter):
    """A CSD that cannot be reached."""

    def holdings(self, *, account, as_of):
        raise csd_base.CsdUnavailable("connection refused")

    def transactions(self, *, account, since, until):
        raise csd_base.CsdUnavailable("connection refused")


def strate_down_since_yesterday(world):
    """Thursday: Strate cannot be reached, so its latest statement is Wednesday's close (before T); every
    other CSD but NSD has just been reconciled."""
    world.adapters["STRATE"] = Down(ledger=world.ledgers["STRATE"], csd="STRATE")
    with pytest.raises(csd_base.CsdUnavailable):
        world.reconcile(csd="STRATE")
    for code in ("CSCS", "KACD", "MCDR"):
        assert world.reconcile(csd=code).breaks_seen == 0


def test_a_csd_down_since_yesterday_leaves_its_links_and_isins_unchecked_rather_than_broken(world):
    # NSD's omnibus account of KACD drifts in the bond: a link between two CSDs with recent statements is
    # still checked
    world.sql(
        "NSD",
        "UPDATE refcsd_postings SET quantity = quantity - :q"
        " WHERE kind = 'OPENING' AND credit_account = 'OMNIBUS-KACD' AND isin = :isin",
        q=units(50),
        isin=BOND,
    )
    strate_down_since_yesterday(world)
    nsd = world.reconcile(csd="NSD")
    assert nsd.status == "DONE", nsd.error
    # T's 100 are in NSD's omnibus account of Strate today, not in Strate's statement of yesterday: no
    # OMNIBUS or ISSUED break is made of that
    assert {(kind, account) for kind, _, _, account, *_ in breaks(nsd)} == {
        ("BALANCE", "OMNIBUS-KACD"),
        ("BALANCE", "ISSUANCE"),
        ("OMNIBUS", "OMNIBUS-KACD"),
    }
    assert not nsd.cross_checks
    notes = nsd.notes.splitlines()
    assert (
        "STRATE: participants' total unknown (no statement of its current day pulled since 2026-11-26 10:30 UTC)"
        in notes
    )
    assert (
        "check 2 not made for STRATE's omnibus account OMNIBUS-STRATE at NSD: STRATE's participants' total unknown"
        in notes
    )
    assert (
        "check 2 not made for NSD's omnibus account OMNIBUS-NSD at STRATE: no recent statement of STRATE"
        in notes
    )
    assert not any("OMNIBUS-KACD" in line or "issued at KACD" in line for line in notes)
    issued = [line for line in notes if line.startswith("check 3")]
    assert [line.split(" (")[0] for line in issued] == [
        "check 3 not made for the ISINs issued at CSCS",
        "check 3 not made for the ISINs issued at MCDR",
        "check 3 not made for the ISINs issued at NSD",
        "check 3 not made for the ISINs issued at STRATE",
    ]
    assert issued[2].endswith("participants' total unknown at STRATE") and SHARES in issued[2]
    assert not isin_suspended(SHARES, csd_codes=["STRATE"], now=TUESDAY)


def test_a_break_across_csds_is_not_resolved_by_a_run_that_could_not_compare(world):
    l1, l2 = world.transfer.legs.order_by("position").values_list("leg_id", flat=True)
    # Thursday morning: T's leg at Strate is booked for Friday, so Strate's participants lack its 100
    world.sql(
        "STRATE", "UPDATE refcsd_postings SET settlement_date = '2026-11-27' WHERE reference = :leg", leg=l2
    )
    world.reconcile()
    kept = {("OMNIBUS", "OMNIBUS-STRATE"), ("ISSUED", "")}
    assert set(Break.objects.filter(kind__in=("OMNIBUS", "ISSUED")).values_list("kind", "account")) == kept
    # then Strate goes down, and puts the leg back on Thursday; NSD takes its own leg out. Compared with
    # Strate's statement of the morning, NSD's books would look in line with Strate's: they are not
    world.adapters["STRATE"] = Down(ledger=world.ledgers["STRATE"], csd="STRATE")
    world.sql(
        "STRATE", "UPDATE refcsd_postings SET settlement_date = '2026-11-26' WHERE reference = :leg", leg=l2
    )
    world.sql("NSD", "DELETE FROM refcsd_postings WHERE reference = :leg", leg=l1)
    later = LATER_THAT_DAY + dt.timedelta(hours=2)  # Strate's statement of the morning is too old by then
    nsd = world.reconcile(csd="NSD", now=later)
    assert not nsd.cross_checks and "STRATE: participants' total unknown" in nsd.notes
    live = Break.objects.filter(kind__in=("OMNIBUS", "ISSUED"), status="OPEN")
    assert set(live.values_list("kind", "account")) == kept and nsd.breaks_resolved == 0
    # Strate answers again: the check is made, and the difference is still there
    world.adapters["STRATE"] = LedgerAdapter(ledger=world.ledgers["STRATE"], csd="STRATE")
    again = world.reconcile(now=later + dt.timedelta(minutes=1))
    assert again.cross_checks
    assert {(kind, account) for kind, _, _, account, *_ in breaks(again)} >= kept
    assert set(live.values_list("kind", "account")) == kept


def test_a_run_of_every_csd_with_recent_statements_makes_every_cross_check(world):
    run = world.reconcile()
    assert run.cross_checks and run.notes == ""
    one = world.reconcile(csd="NSD", now=LATER_THAT_DAY + dt.timedelta(minutes=15))
    assert one.cross_checks and one.notes == "" and breaks(one) == set()


def test_a_drift_found_while_both_csds_are_recent_is_still_an_omnibus_break(world):
    world.sql(
        "NSD",
        "UPDATE refcsd_postings SET quantity = quantity - :q"
        " WHERE kind = 'OPENING' AND credit_account = 'OMNIBUS-STRATE' AND isin = :isin",
        q=units(50),
        isin=SHARES,
    )
    world.reconcile()
    one = world.reconcile(csd="NSD", now=LATER_THAT_DAY + dt.timedelta(minutes=15))
    assert ("OMNIBUS", "NSD", SHARES, "OMNIBUS-STRATE", "", D(400_100), D(400_050), D(-50)) in breaks(one)


def test_an_omnibus_break_is_not_resolved_by_setting_its_link_inactive(world):
    from hub.registry.models import CSDLink

    world.sql(
        "NSD",
        "UPDATE refcsd_postings SET quantity = quantity - :q"
        " WHERE kind = 'OPENING' AND credit_account = 'OMNIBUS-STRATE' AND isin = :isin",
        q=units(50),
        isin=SHARES,
    )
    world.reconcile()
    CSDLink.objects.filter(investor_csd__code="STRATE", issuer_csd__code="NSD").update(is_active=False)
    run = world.reconcile(now=LATER_THAT_DAY + dt.timedelta(minutes=15))
    omnibus = Break.objects.get(kind="OMNIBUS")
    assert omnibus.status == "OPEN" and not omnibus.events.filter(to_status="RESOLVED").exists()
    assert run.breaks_resolved == 0


FRIDAY_10_IN_MOSCOW = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.UTC)


def test_a_late_close_of_the_day_before_is_not_taken_for_a_csds_figures_of_today(world):
    from hub.reconciliation.models import Statement
    from tests.hub.settlement.messages import NSD_A, STRATE_A

    # Friday 10:00 in Moscow: 100 more move from NSD to Strate, and every CSD is reconciled
    world.clock = FRIDAY_10_IN_MOSCOW
    world.settle(NSD_A, STRATE_A, tx="FRIDAY", now=FRIDAY_10_IN_MOSCOW)
    clean = world.reconcile(now=FRIDAY_10_IN_MOSCOW + dt.timedelta(minutes=5))
    assert clean.cross_checks and breaks(clean) == set()
    # then NSD's end-of-day run of Thursday, delivered late: its close holds Thursday's figures, before
    # Friday's transfer, while Strate's statement of the morning has it
    late = world.reconcile(csd="NSD", kind="EOD", now=FRIDAY_10_IN_MOSCOW + dt.timedelta(minutes=10))
    assert late.status == "DONE", late.error
    assert Statement.objects.get(run=late, role="CURRENT").as_of == dt.date(2026, 11, 26)
    assert breaks(late) == set() and not Break.objects.exists()


def test_a_late_close_of_the_day_before_does_not_resolve_a_break_of_today(world):
    world.clock = FRIDAY_10_IN_MOSCOW
    world.sql(
        "NSD",
        "INSERT INTO refcsd_postings (reference, kind, isin, debit_account, credit_account, quantity,"
        " from_blocked, settlement_date, booked_at) VALUES ('UNDUE-FRI', 'ISSUE', :isin, 'ISSUANCE',"
        " 'DEMBRUMM-OWN', :q, false, '2026-11-27', '2026-11-27')",
        isin=SHARES,
        q=units(500),
    )
    world.reconcile(now=FRIDAY_10_IN_MOSCOW)
    issued = Break.objects.get(kind="ISSUED")
    # Thursday's close, taken late, knows nothing of Friday's creation
    late = world.reconcile(csd="NSD", kind="EOD", now=FRIDAY_10_IN_MOSCOW + dt.timedelta(minutes=10))
    issued.refresh_from_db()
    assert issued.status == "OPEN" and late.breaks_resolved == 0
    again = world.reconcile(now=FRIDAY_10_IN_MOSCOW + dt.timedelta(minutes=20))
    assert list(Break.objects.values_list("pk", "status")) == [(issued.pk, "OPEN")]
    assert again.breaks_opened == 0
