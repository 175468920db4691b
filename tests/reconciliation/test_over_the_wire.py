"""A run through the real MX adapter against NSD's reference CSD served by a child process on its own
PostgreSQL database: every account's statement travels in semt.002/semt.017, the contra accounts' short
positions included (``ShrtLngInd`` ``SHOR``), so nothing is a gap and every account is reconciled."""

import json

import pytest
import sqlalchemy as sa
from django.core.management import call_command
from django.db.models import Sum

from csd_adapters.reference_csd.ledger import Ledger
from hub.reconciliation.models import Break, Gap, Position, Run
from hub.reconciliation.services import run_execute, run_request
from hub.registry.models import CSD
from hub.registry.reference_csds import reference_csd_seed_document
from tests.csd_adapters.conftest import own_database, reference_csd_process

from .conftest import ISSUED, SHARES, breaks, units

pytestmark = pytest.mark.slow


def _run(nsd: CSD) -> Run:
    run = run_request(csd=nsd, kind=Run.Kind.ON_DEMAND, requested_by="test", enqueue=False)
    return run_execute(run_id=run.pk)  # the hub's own adapter for the row: iso20022_mx over HTTP


def test_contra_accounts_short_statements_travel_and_are_reconciled_with_the_rest(db, tmp_path):
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
        run = _run(nsd)
        assert run.status == "DONE", run.error
        assert not Gap.objects.filter(statement__run=run).exists()
        assert "no statement of" not in run.notes
        assert "checks 2, 3 and 5 skipped: no statement yet from CSCS, KACD, MCDR, STRATE" in run.notes
        assert Break.objects.count() == 0 and not run.cross_checks
        for role in ("BASELINE", "CURRENT"):
            rows = Position.objects.filter(statement__run=run, statement__role=role)
            held = dict(rows.filter(isin=SHARES).values_list("account__number", "quantity"))
            assert held["DEMARUMM-OWN"] == 100_000 and held["OMNIBUS-STRATE"] == 400_000
            # the issuance account, read from its own statement: short by everything issued
            assert held["ISSUANCE"] == -ISSUED
            # each mirror account short by what its investor CSD's participants hold in NSD's books
            contra = rows.filter(kind="MIRROR").values_list("account__number", "quantity")
            assert sorted(contra) == [
                ("MIRROR-KACD", -400_000),
                ("MIRROR-STRATE", -4_000_000),
                ("MIRROR-STRATE", -400_000),
            ]
            # with the contra accounts in, every security nets to zero in NSD's statements
            totals = rows.values("isin").annotate(total=Sum("quantity")).values_list("total", flat=True)
            assert set(totals) == {0}

        # check 1 (art. 59) now covers the contra accounts: an issuance account that moves without a
        # movement on its statement of transactions is a BALANCE break read from its semt.002
        engine = Ledger(database, timezone=nsd.timezone).engine
        with engine.begin() as connection:
            changed = connection.execute(
                sa.text(
                    "UPDATE refcsd_postings SET quantity = quantity - :q"
                    " WHERE kind = 'OPENING' AND credit_account = 'DEMARUMM-OWN' AND isin = :isin"
                ),
                {"q": units(50), "isin": SHARES},
            ).rowcount
        engine.dispose()
        assert changed == 1
        tampered = _run(nsd)
    assert tampered.status == "DONE", tampered.error
    assert not Gap.objects.filter(statement__run=tampered).exists()
    assert {
        (kind, account, actual - expected) for kind, _, _, account, _, expected, actual, _ in breaks(tampered)
    } == {
        ("BALANCE", "DEMARUMM-OWN", -50),
        ("BALANCE", "ISSUANCE", 50),
    }
