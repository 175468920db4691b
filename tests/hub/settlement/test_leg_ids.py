"""A leg's id is its idempotency key at its CSD, so it must be unique at the CSD, not only in one hub
database: a hub restored from a backup, or a second hub environment against the same CSD, hands out the
same transfer numbers again. These stories put a CSD's books in the state such a hub finds them in."""

import datetime as dt
import logging
from decimal import Decimal

import pytest

from csd_adapters import base as csd
from csd_adapters.base import leg_reference
from hub.ledger.models import Entry
from hub.settlement import protocol
from hub.settlement.legs import leg_ids_new
from hub.settlement.models import Instruction

from .books import invariant_violations
from .messages import NSD_A, STRATE_A, pair
from .test_protocol import NOON_IN_MOSCOW, SHARES, matched, run
from .test_settlement_day import advance


def test_a_transfers_leg_ids_name_it_and_its_legs_and_fill_what_mt_carries_with_random_letters():
    ids = leg_ids_new(4711, [1, 2, 3])
    assert [leg_id[:7] for leg_id in ids.values()] == ["T4711L1", "T4711L2", "T4711L3"]
    assert {leg_id[7:] for leg_id in ids.values()} == {ids[1][7:]}  # one draw for the transfer's legs
    assert all(len(leg_id) == 16 and leg_reference(leg_id) == leg_id for leg_id in ids.values())
    assert ids[1][7:].isalpha() and not set(ids[1][7:]) & set("ILO")
    assert leg_ids_new(4711, [1]) != leg_ids_new(4711, [1])  # a second hub handing out 4711 again
    assert len(leg_ids_new(10**11, [1])[1]) == 16  # still within MT's 16, with fewer letters


def test_a_leg_reference_a_restored_hub_hands_out_again_does_not_settle_without_moving_anything(books):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="SAME"))
    nsd = books.ledgers["NSD"]
    # NSD's books hold the leg the hub called T<id>L1 before its database was restored: the same accounts,
    # ISIN and quantity, reserved and delivered then
    old = f"T{transfer.pk}L1"
    nsd.reserve(reference=old, account="DEMARUMM-OWN", isin=SHARES, quantity=Decimal(100))
    nsd.deliver(
        reference=old,
        account="DEMARUMM-OWN",
        credit_account="OMNIBUS-STRATE",
        isin=SHARES,
        quantity=Decimal(100),
    )
    transfer = run(run(transfer, books), books)
    assert transfer.status == "SETTLED"
    assert old not in transfer.legs.values_list("leg_id", flat=True)
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(99_800), 0)  # debited for this one too
    assert books.balance("STRATE", "DEMAZAJJ-OWN", SHARES) == (Decimal(100_100), 0)


@pytest.fixture
def ids_handed_out_again(monkeypatch):
    """The hub hands out ids the CSDs hold already (the ids before they had a random tail)."""
    monkeypatch.setattr(protocol, "leg_ids_new", lambda pk, positions: {p: f"T{pk}L{p}" for p in positions})


def test_a_prepare_answered_with_a_leg_committed_long_ago_is_not_taken_for_this_legs(
    books, ids_handed_out_again
):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="REPLAY"))
    nsd = books.ledgers["NSD"]
    old = f"T{transfer.pk}L1"
    nsd.reserve(reference=old, account="DEMARUMM-OWN", isin=SHARES, quantity=Decimal(100))
    nsd.deliver(
        reference=old,
        account="DEMARUMM-OWN",
        credit_account="OMNIBUS-STRATE",
        isin=SHARES,
        quantity=Decimal(100),
    )
    transfer = run(transfer, books)
    # NSD replays its answer for the old leg: COMMITTED, where a prepare reserves. The transfer aborts; the
    # release of that leg is refused too (NSD cannot unwind a posting), so it waits for operations
    assert transfer.status == "ABORTING" and transfer.failure_reason == "OTHR"
    assert f"answered the prepare of {old} with a leg committed" in transfer.failure_detail
    assert dict(transfer.legs.values_list("position", "status")) == {1: "PENDING", 2: "ABORTED"}
    assert not Entry.objects.filter(reference=f"transfer:{transfer.pk}").exists()
    assert books.balance("STRATE", "DEMAZAJJ-OWN", SHARES) == (Decimal(100_000), 0)  # nothing received
    assert books.balance("STRATE", "MIRROR-NSD", SHARES)[1] == 0  # Strate's reservation released


def test_a_leg_whose_reference_the_csd_holds_for_another_movement_aborts_and_waits_for_operations(
    books, ids_handed_out_again, caplog
):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="REFE"))
    leg_id = f"T{transfer.pk}L1"
    # NSD holds a reservation of 7 under the leg's id, for another movement
    books.ledgers["NSD"].reserve(reference=leg_id, account="DEMARUMM-OWN", isin=SHARES, quantity=Decimal(7))
    transfer = run(transfer, books)
    # NSD refuses the prepare and then the release (REFE): the hub cannot tell this from a reservation of
    # its own leg whose confirmation was lost, so it does not take the leg for released
    assert transfer.status == "ABORTING" and transfer.failure_reason == "REFE"
    assert dict(transfer.legs.values_list("position", "status")) == {1: "PENDING", 2: "ABORTED"}
    assert transfer.legs.get(position=1).reason_code == "REFE"
    assert books.balance("STRATE", "MIRROR-NSD", SHARES)[1] == 0  # Strate's reservation released
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(99_993), Decimal(7))  # the other's, kept
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"NSD refused the abort of {leg_id} (REFE)" in message for message in errors)
    assert set(Instruction.objects.values_list("status", flat=True)) == {"MATCHED"}  # not failed yet
    later = run(transfer, books, now=NOON_IN_MOSCOW + dt.timedelta(minutes=5))
    assert later.status == "ABORTING"  # tried again, and shown again, until operations settle it
    assert invariant_violations(books) == []


class LosesThePrepareReplyAndRefusesTheRelease:
    """NSD reserves the legs it is sent but the reply never reaches the hub, and refuses their release for
    their reference (REFE), as a CSD may that takes the release's reference, the reservation's, for a
    duplicate: the securities stay blocked there."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def prepare_many(self, legs):
        self.inner.prepare_many(legs)
        raise csd.CsdTimeout("no reply within 10s")

    def abort_many(self, legs):
        return [
            csd.LegResult(leg_id=leg.leg_id, error=csd.LegConflict("duplicate reference", reason_code="REFE"))
            for leg in legs
        ]


def test_a_release_refused_with_refe_for_a_leg_whose_prepare_reply_was_lost_is_not_taken_for_done(
    books, settings, caplog
):
    settings.SETTLEMENT_CUTOFFS_ENFORCED = True
    nsd = LosesThePrepareReplyAndRefusesTheRelease(books.adapters["NSD"])
    adapter_for = lambda csd_row: nsd if csd_row.code == "NSD" else books.adapter_for(csd_row)  # noqa: E731
    transfer = advance(matched(*pair(NSD_A, STRATE_A, tx="LOST")), adapter_for, now=NOON_IN_MOSCOW)
    assert transfer.status == "PREPARING" and transfer.attempts == 1
    nsd_leg = transfer.legs.get(csd__code="NSD")
    assert nsd_leg.status == "PENDING"  # at the hub; reserved at NSD
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(99_900), Decimal(100))
    # Strate closes before NSD answers again: the transfer aborts, and NSD refuses the release
    transfer = advance(transfer, adapter_for, now=dt.datetime(2026, 11, 26, 14, 30, tzinfo=dt.UTC))
    assert transfer.status == "ABORTING" and transfer.failure_reason == "LATE"
    assert transfer.legs.get(csd__code="NSD").reason_code == "REFE"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"NSD refused the abort of {nsd_leg.leg_id} (REFE): " in message for message in errors)
    # not FAILED while NSD still blocks the securities
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(99_900), Decimal(100))
