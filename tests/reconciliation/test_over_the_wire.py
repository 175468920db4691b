"""A run through the real MX adapter against NSD's reference CSD served by a child process on its own
PostgreSQL database: what travels in semt.002/semt.017 is reconciled, and what cannot travel (a contra
account's short position, refused with 422) is recorded as a gap and left out, never guessed."""

import json

import pytest
from django.core.management import call_command

from hub.reconciliation.models import Break, Gap, Position, Run
from hub.reconciliation.services import run_execute, run_request
from hub.registry.models import CSD
from hub.registry.reference_csds import reference_csd_seed_document
from tests.csd_adapters.conftest import own_database, reference_csd_process

from .conftest import SHARES

pytestmark = pytest.mark.slow


def test_contra_accounts_whose_short_statements_cannot_travel_are_gaps_and_the_rest_reconciles(db, tmp_path):
    call_command("seed_demo", verbosity=0)
    nsd = CSD.objects.get(code="NSD")
    seed = tmp_path / "nsd.json"
    seed.write_text(json.dumps(reference_csd_seed_document(csd=nsd)))
    with (
        own_database(tmp_path, "recon_nsd") as database,
        reference_csd_process("NSD", database, ["--seed", str(seed)]) as (base_url, _child),
    ):
        CSD.objects.filter(pk=nsd.pk).update(adapter_config={"base_url": base_url})
        nsd.refresh_from_db()
        run = run_request(csd=nsd, kind=Run.Kind.ON_DEMAND, requested_by="test", enqueue=False)
        run = run_execute(run_id=run.pk)  # the hub's own adapter for the row: iso20022_mx over HTTP
    assert run.status == "DONE", run.error
    gaps = set(Gap.objects.filter(statement__run=run).values_list("account__number", "what"))
    # the baseline and the current statement each lack the three short accounts' holdings
    assert gaps == {("ISSUANCE", "holdings"), ("MIRROR-KACD", "holdings"), ("MIRROR-STRATE", "holdings")}
    assert "MIRROR-STRATE: no statement of holdings (MessageRejected" in run.notes
    assert "checks 2, 3 and 5 skipped: no statement yet from CSCS, KACD, MCDR, STRATE" in run.notes
    assert Break.objects.count() == 0 and not run.cross_checks
    current = Position.objects.filter(statement__run=run, statement__role="CURRENT")
    held = dict(current.filter(isin=SHARES).values_list("account__number", "quantity"))
    assert held["DEMARUMM-OWN"] == 100_000 and held["OMNIBUS-STRATE"] == 400_000
