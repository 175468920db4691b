"""A run of every CSD over a clean system, and what a run records."""

from hub.reconciliation.models import Break, Statement

from .conftest import breaks


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
