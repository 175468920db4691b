"""A leg's id is its idempotency key at its CSD, so it must be unique at the CSD, not only in one hub
database: a hub restored from a backup, or a second hub environment against the same CSD, hands out the
same transfer numbers again. These stories put a CSD's books in the state such a hub finds them in."""

import datetime as dt
from decimal import Decimal

import pytest

from csd_adapters.base import leg_reference
from hub.ledger.models import Entry
from hub.settlement import protocol
from hub.settlement.legs import leg_ids_new
from hub.settlement.models import Instruction

from .books import invariant_violations
from .messages import NSD_A, STRATE_A, pair
from .test_protocol import NOON_IN_MOSCOW, SHARES, matched, run, statuses_sent


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


def test_a_leg_whose_reference_the_csd_holds_for_another_movement_fails_and_is_released(
    books, ids_handed_out_again
):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="REFE"))
    # NSD holds a reservation of 7 under the leg's id, for another movement
    books.ledgers["NSD"].reserve(
        reference=f"T{transfer.pk}L1", account="DEMARUMM-OWN", isin=SHARES, quantity=Decimal(7)
    )
    transfer = run(transfer, books)
    assert transfer.status == "FAILED" and transfer.failure_reason == "REFE"
    assert dict(transfer.legs.values_list("position", "status")) == {1: "ABORTED", 2: "ABORTED"}
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(99_993), Decimal(7))  # the other's, kept
    assert set(Instruction.objects.values_list("status", flat=True)) == {"FAILED"}
    assert statuses_sent("DEMARUMM")[-1] == "FAILED" and statuses_sent("DEMAZAJJ")[-1] == "FAILED"
    # the sweeper's later runs find nothing more to do
    later = run(transfer, books, now=NOON_IN_MOSCOW + dt.timedelta(minutes=5))
    assert later.status == "FAILED" and later.due_at is None
    assert invariant_violations(books) == []
