"""Each kind of difference, injected with raw SQL into a CSD's own database (or the hub's ledger tables),
shows up as exactly the breaks it must cause, with their figures.

The world (see conftest): NSD issued 1,600,000 of SHARES; Strate, KACD and MCDR hold 400,000 each through
their omnibus accounts at NSD; transfer T moved 100 from DEMARUMM-OWN at NSD to DEMAZAJJ-OWN at Strate
(leg 1 at NSD: DEMARUMM-OWN -> OMNIBUS-STRATE; leg 2 at Strate: MIRROR-NSD -> DEMAZAJJ-OWN). The closing
run of the day before is every CSD's baseline.
"""

from decimal import Decimal as D

from django.db import connection

from hub.ledger import selectors
from hub.ledger.keys import Signer
from hub.reconciliation.models import Break

from .conftest import ISSUED, SHARES, breaks, units


def test_an_undue_creation_at_the_issuer_breaks_the_issued_total_by_exactly_what_was_created(world):
    world.sql(
        "NSD",
        "INSERT INTO refcsd_postings (reference, kind, isin, debit_account, credit_account, quantity,"
        " from_blocked, settlement_date, booked_at)"
        " VALUES ('UNDUE-1', 'ISSUE', :isin, 'ISSUANCE', 'DEMBRUMM-OWN', :q, false, '2026-11-26', '2026-11-26')",
        isin=SHARES,
        q=units(500),
    )
    run = world.reconcile()
    assert breaks(run) == {("ISSUED", "NSD", SHARES, "", "", ISSUED, ISSUED + 500, D(500))}


def test_a_missing_movement_is_named_on_both_accounts_with_its_consequences_on_the_omnibus_and_the_total(
    world,
):
    leg = world.transfer.legs.get(position=2).leg_id  # Strate: MIRROR-NSD -> DEMAZAJJ-OWN, 100
    assert world.sql("STRATE", "DELETE FROM refcsd_postings WHERE reference = :leg", leg=leg) == 1
    run = world.reconcile()
    assert breaks(run) == {
        ("MV_MISS", "STRATE", SHARES, "MIRROR-NSD", leg, D(-100), D(0), D(100)),
        ("MV_MISS", "STRATE", SHARES, "DEMAZAJJ-OWN", leg, D(100), D(0), D(-100)),
        # Strate's participants hold 400,000 again, but its omnibus at NSD kept the 100
        ("OMNIBUS", "NSD", SHARES, "OMNIBUS-STRATE", "", D(400_000), D(400_100), D(100)),
        ("ISSUED", "NSD", SHARES, "", "", ISSUED, ISSUED - 100, D(-100)),
    }


def test_a_wrong_quantity_on_a_settled_leg_is_a_movement_difference_on_both_accounts(world):
    leg = world.transfer.legs.get(position=1).leg_id  # NSD: DEMARUMM-OWN -> OMNIBUS-STRATE, 100
    world.sql("NSD", "UPDATE refcsd_postings SET quantity = :q WHERE reference = :leg", q=units(90), leg=leg)
    run = world.reconcile()
    assert breaks(run) == {
        ("MV_DIFF", "NSD", SHARES, "DEMARUMM-OWN", leg, D(-100), D(-90), D(10)),
        ("MV_DIFF", "NSD", SHARES, "OMNIBUS-STRATE", leg, D(100), D(90), D(-10)),
        ("OMNIBUS", "NSD", SHARES, "OMNIBUS-STRATE", "", D(400_100), D(400_090), D(-10)),
        ("ISSUED", "NSD", SHARES, "", "", ISSUED, ISSUED + 10, D(10)),
    }


def test_an_omnibus_drift_without_any_movement_breaks_the_daily_balance_and_the_link(world):
    changed = world.sql(
        "NSD",
        "UPDATE refcsd_postings SET quantity = quantity - :q"
        " WHERE kind = 'OPENING' AND credit_account = 'OMNIBUS-STRATE' AND isin = :isin",
        q=units(50),
        isin=SHARES,
    )
    assert changed == 1
    run = world.reconcile()
    assert breaks(run) == {
        # art. 59: yesterday's close plus today's movements is not today's balance
        ("BALANCE", "NSD", SHARES, "OMNIBUS-STRATE", "", D(400_100), D(400_050), D(-50)),
        ("BALANCE", "NSD", SHARES, "ISSUANCE", "", D(-1_600_000), D(-1_599_950), D(50)),
        ("OMNIBUS", "NSD", SHARES, "OMNIBUS-STRATE", "", D(400_100), D(400_050), D(-50)),
    }


def test_a_cross_csd_movement_the_hub_never_settled_is_an_unknown_movement(world):
    world.sql(
        "STRATE",
        "INSERT INTO refcsd_postings (reference, kind, isin, debit_account, credit_account, quantity,"
        " from_blocked, settlement_date, booked_at)"
        " VALUES ('GHOST-1', 'DELIVERY', :isin, 'MIRROR-NSD', 'ISSUANCE', :q, false, '2026-11-26', '2026-11-26')",
        isin=SHARES,
        q=units(7),
    )
    run = world.reconcile()
    assert breaks(run) == {("MV_UNKN", "STRATE", SHARES, "MIRROR-NSD", "GHOST-1", D(0), D(-7), D(-7))}


def test_a_tampered_ledger_row_breaks_the_chain_and_no_longer_matches_its_transfer(world):
    entry_id = world.transfer.commit_entry_id
    with connection.cursor() as sql:
        sql.execute("SET LOCAL session_replication_role = replica")  # what a superuser could do
        sql.execute(
            'UPDATE ledger_entry SET record = replace(record, \'"quantity":"100"\', \'"quantity":"1000"\')'
            " WHERE id = %s",
            [entry_id],
        )
        sql.execute("SET LOCAL session_replication_role = origin")
    run = world.reconcile()
    found = breaks(run)
    assert ("LG_REC", None, SHARES, "", f"transfer:{world.transfer.pk}", D(100), D(1000), D(900)) in found
    chain = {b for b in found if b[0] == "LG_CHAIN"}
    assert {b[4] for b in chain} == {f"entry {entry_id}"}
    assert found == chain | {
        ("LG_REC", None, SHARES, "", f"transfer:{world.transfer.pk}", D(100), D(1000), D(900))
    }
    detail = Break.objects.get(kind="LG_CHAIN").detail
    assert "does not hash to its record hash" in detail


def test_a_chain_whose_hub_key_in_force_is_not_the_key_the_hub_is_configured_with_is_a_chain_break(
    world, settings
):
    # what a chain rebuilt and re-signed from its first block with someone else's key looks like to the
    # hub: self-consistent, but not ending with the hub's own key
    chain_key, configured = selectors.hub_key_in_force_id(), Signer.generate()
    settings.LEDGER_HUB_KEY = configured.seed_text
    run = world.reconcile()
    assert {b[0] for b in breaks(run)} == {"LG_CHAIN"}
    assert Break.objects.get(kind="LG_CHAIN").detail == (
        f"the chain's hub key in force is {chain_key}, the hub is configured with {configured.key_id}"
    )


def test_a_hub_key_configured_that_cannot_be_used_is_a_chain_break_not_a_failed_run(world, settings):
    settings.LEDGER_HUB_KEY = "c2hvcnQ="  # five bytes, not a 32-byte seed
    run = world.reconcile()
    assert {b[0] for b in breaks(run)} == {"LG_CHAIN"}
    detail = Break.objects.get(kind="LG_CHAIN").detail
    assert detail.startswith("the hub's configured key cannot be used: LEDGER_HUB_KEY holds 5 bytes")
    assert "the chain's hub key in force was not checked against it" in detail
