"""A run of every CSD over a clean system, and what a run records."""

from hub.reconciliation.models import Break, Gap, Position, Statement
from hub.registry.models import CSD, SecuritiesAccount

from .conftest import ISSUED, SHARES, breaks, undue_creation


def test_a_clean_system_with_a_settled_transfer_reports_zero_breaks(world):
    run = world.reconcile()
    assert run.status == "DONE", run.error
    assert run.cross_checks and run.breaks_seen == 0 and breaks(run) == set()
    assert Break.objects.count() == 0
    current = Statement.objects.filter(run=run, role="CURRENT")
    assert current.count() == 5
    nsd = current.get(csd__code="NSD")
    assert (str(nsd.movements_since), str(nsd.movements_until)) == ("2026-11-26", "2026-11-26")
    assert nsd.baseline.as_of.isoformat() == "2026-11-25" and nsd.baseline.end_of_day


def test_an_account_the_csd_does_not_know_is_a_gap_left_out_of_the_checks_never_guessed(world):
    nsd = CSD.objects.get(code="NSD")
    owner = SecuritiesAccount.objects.get(csd=nsd, number="DEMARUMM-OWN").participant
    SecuritiesAccount.objects.create(csd=nsd, number="DEMARUMM-NEW", kind="OWN", participant=owner)
    undue_creation(world)  # would break the issued total (check 3), were it made
    run = world.reconcile()
    assert run.status == "DONE", run.error
    gaps = set(Gap.objects.filter(statement__run=run).values_list("account__number", "what"))
    assert gaps == {("DEMARUMM-NEW", "holdings"), ("DEMARUMM-NEW", "transactions")}
    assert "DEMARUMM-NEW: no statement of holdings (UnknownAccount" in run.notes
    assert breaks(run) == set()  # a participant account missing: the issued total is not guessed
    # the contra accounts are no gap: their short positions were read from their statements
    issuance = Position.objects.get(
        statement__run=run,
        statement__csd=nsd,
        statement__role="CURRENT",
        account__number="ISSUANCE",
        isin=SHARES,
    )
    assert issuance.quantity == -ISSUED - 500
