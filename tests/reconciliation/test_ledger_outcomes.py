"""Check 5 the other way round (invariant 4): every COMMIT entry on the ledger, and every leg committed at a
CSD, belongs to a transfer that settled; every settled transfer has its SETTLED entry. A transfer still
committing within the grace period is on its way, not a break.

The world (see conftest): transfer T moved 100 of SHARES from NSD (leg 1) to Strate (leg 2), settled.
"""

import datetime as dt
from decimal import Decimal as D

from django.db import connection

from hub.reconciliation.models import Break
from tests.hub.settlement.messages import NSD_A, STRATE_A

from .conftest import LATER_THAT_DAY, SHARES, CannotCommit, breaks


def ledger_breaks(run) -> set[tuple]:
    return {b for b in breaks(run) if b[0] in ("LG_OPEN", "LG_NOSTL", "LEG_OPEN", "LG_REC")}


def test_a_transfer_marked_failed_after_its_commit_was_anchored_and_its_legs_posted_is_a_break(world):
    t = world.transfer
    with connection.cursor() as sql:  # what invariant 4 forbids: FAILED, yet anchored and every leg posted
        sql.execute(
            "UPDATE settlement_transfer SET status = 'FAILED', settled_at = NULL WHERE id = %s", [t.pk]
        )
    run = world.reconcile()
    assert run.status == "DONE", run.error
    leg_ids = dict(t.legs.values_list("position", "leg_id"))
    assert breaks(run) == {
        ("LG_OPEN", None, SHARES, "", f"transfer:{t.pk}", D(100), None, None),
        ("LEG_OPEN", "NSD", SHARES, "", leg_ids[1], D(0), D(100), D(100)),
        ("LEG_OPEN", "STRATE", SHARES, "", leg_ids[2], D(0), D(100), D(100)),
    }
    assert Break.objects.get(kind="LG_OPEN").detail == (
        f"COMMIT entry {t.commit_entry_id} on the ledger; the transfer is FAILED"
    )


def committing_at_nsd_only(world):
    """A transfer past its COMMIT entry whose leg at NSD is posted and whose leg at Strate is not."""
    world.adapters["STRATE"] = strate = CannotCommit(ledger=world.ledgers["STRATE"], csd="STRATE")
    transfer = world.advance(world.instruct(NSD_A, STRATE_A, tx="STUCK"))
    assert transfer.status == "COMMITTING"
    assert dict(transfer.legs.values_list("position", "status")) == {1: "COMMITTED", 2: "PREPARED"}
    return transfer, strate


def test_a_transfer_still_committing_within_the_grace_period_is_not_a_break(world):
    committing_at_nsd_only(world)
    assert ledger_breaks(world.reconcile()) == set()


def test_a_transfer_committing_for_longer_than_the_grace_period_is_a_break_until_it_settles(
    world, monkeypatch
):
    transfer, strate = committing_at_nsd_only(world)
    monkeypatch.setenv("RECONCILIATION_COMMIT_GRACE_SECONDS", "0")
    run = world.reconcile()
    at_nsd = transfer.legs.get(position=1).leg_id
    assert ledger_breaks(run) == {
        ("LG_OPEN", None, SHARES, "", f"transfer:{transfer.pk}", D(100), None, None),
        ("LEG_OPEN", "NSD", SHARES, "", at_nsd, D(0), D(100), D(100)),
    }
    assert Break.objects.get(kind="LEG_OPEN").detail == "committed at its CSD; its transfer is COMMITTING"
    strate.down = False
    assert world.advance(transfer).status == "SETTLED"
    later = world.reconcile(now=LATER_THAT_DAY + dt.timedelta(minutes=15))
    assert ledger_breaks(later) == set()
    assert set(Break.objects.filter(kind__in=("LG_OPEN", "LEG_OPEN")).values_list("status", flat=True)) == {
        "RESOLVED"
    }


def test_a_settled_transfer_without_its_settled_entry_is_a_break(world, monkeypatch):
    transfer, _strate = committing_at_nsd_only(world)
    with connection.cursor() as sql:  # settled in the hub's rows, but its SETTLED entry never appended
        sql.execute("UPDATE settlement_leg SET status = 'COMMITTED' WHERE transfer_id = %s", [transfer.pk])
        sql.execute(
            "UPDATE settlement_transfer SET status = 'SETTLED', settled_at = %s WHERE id = %s",
            [transfer.created_at, transfer.pk],
        )
    run = world.reconcile()
    found = {b[:5] for b in ledger_breaks(run)}
    assert found == {("LG_NOSTL", None, SHARES, "", f"transfer:{transfer.pk}")}
    assert Break.objects.get(kind="LG_NOSTL").detail.endswith("UTC; no SETTLED entry")
