"""The reference CSD as a service: its command line, seeding at start, the admin token, and how it answers
what it cannot take."""

import json
import subprocess
import sys
from decimal import Decimal

import pytest
import requests

from csd_adapters.base import CsdUnavailable, Leg, LegState
from csd_adapters.profiles import PROFILES
from csd_adapters.reference_csd.ledger import Ledger, seed_document
from csd_adapters.reference_csd.service import ReferenceCsd
from csd_adapters.registry import adapter_for
from csd_adapters.transport import RetryPolicy, WsgiTransport

from ..conftest import REPO_ROOT
from .conftest import KNOWN_ISIN, reference_csd_process

SEED = seed_document(
    [
        ("ISSUANCE", "ISSUANCE"),
        ("DEMACSCS-OWN", "OWN"),
        ("MIRROR-STRATE", "MIRROR"),
        ("DEMBCSCS-CLIENT", "CLIENT"),
    ],
    [
        ("ISSUANCE", KNOWN_ISIN, Decimal(-100_000)),
        ("DEMACSCS-OWN", KNOWN_ISIN, Decimal(100_000)),
        ("MIRROR-STRATE", KNOWN_ISIN, Decimal(-2_500)),
        ("DEMBCSCS-CLIENT", KNOWN_ISIN, Decimal(2_500)),
    ],
)


def test_the_command_line_explains_itself():
    result = subprocess.run(
        [sys.executable, "-m", "csd_adapters.reference_csd", "serve", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "--csd" in result.stdout and "--database" in result.stdout and "--seed" in result.stdout
    overview = subprocess.run(
        [sys.executable, "-m", "csd_adapters.reference_csd", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert '"positions"' in overview.stdout


def test_a_served_csd_starts_seeded_speaks_its_standard_and_guards_its_admin_endpoints(tmp_path):
    seed_file = tmp_path / "cscs.json"
    seed_file.write_text(json.dumps(SEED))
    database = f"sqlite:///{tmp_path / 'cscs.sqlite3'}"
    options = ["--seed", str(seed_file), "--admin-token", "s3cret"]
    with reference_csd_process("CSCS", database, extra=options) as (base_url, child):
        adapter = adapter_for("iso15022_mt", profile="CSCS", base_url=base_url)
        today = Ledger(database, timezone=PROFILES["CSCS"].timezone).today()
        assert adapter.holdings(account="DEMACSCS-OWN", as_of=today).position(KNOWN_ISIN).available == 100_000
        moves = adapter.transactions(account="DEMBCSCS-CLIENT", since=today, until=today).movements
        assert [(m.quantity, m.credit) for m in moves] == [(2_500, True)]

        assert requests.post(base_url + "/admin/faults", json={"mode": "down"}, timeout=5).status_code == 403
        allowed = requests.post(
            base_url + "/admin/faults", json={"mode": "none"}, timeout=5, headers={"X-Admin-Token": "s3cret"}
        )
        assert allowed.status_code == 200
        garbage = requests.post(base_url + "/messages", data=b"{1:F01", timeout=5)
        assert garbage.status_code == 400
        assert "MT" in garbage.text or "block" in garbage.text.lower()
        assert requests.get(base_url + "/nowhere", timeout=5).status_code == 404
        assert "CSCS reference CSD (MT, CSCSNGLA)" in child.output()


@pytest.mark.parametrize(("csd", "adapter_name"), [("MCDR", "iso20022_mx"), ("CSCS", "iso15022_mt")])
def test_a_contra_accounts_short_position_comes_back_negative_on_its_holdings_statement(
    tmp_path, csd, adapter_name
):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", timezone=PROFILES[csd].timezone)
    ledger.seed(SEED)
    adapter = adapter_for(
        adapter_name, profile=csd, transport=WsgiTransport(ReferenceCsd(PROFILES[csd], ledger))
    )
    today = ledger.today()
    for account, short in (("ISSUANCE", -100_000), ("MIRROR-STRATE", -2_500)):
        position = adapter.holdings(account=account, as_of=today).position(KNOWN_ISIN)
        assert (position.total, position.available, position.blocked) == (short, short, 0)
    assert adapter.holdings(account="DEMACSCS-OWN", as_of=today).position(KNOWN_ISIN).total == 100_000


def test_a_dropped_reply_reaches_the_caller_as_unavailable_although_the_csd_applied_the_operation(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'nsd.sqlite3'}", timezone=PROFILES["NSD"].timezone)
    ledger.seed(SEED)
    csd = ReferenceCsd(PROFILES["NSD"], ledger)
    adapter = adapter_for(
        "iso20022_mx", profile="NSD", transport=WsgiTransport(csd, retry=RetryPolicy(attempts=1))
    )
    leg = Leg(
        leg_id="LEG-DROPPED-1",
        csd="NSD",
        isin=KNOWN_ISIN,
        quantity=Decimal(7),
        debit_account="DEMACSCS-OWN",
        credit_account="DEMBCSCS-CLIENT",
        intended_settlement_date=ledger.today(),
        transfer_reference="T1",
    )
    csd.faults.set("drop_reply", count=1)
    with pytest.raises(CsdUnavailable):
        adapter.prepare(leg)
    assert ledger.balances()[("DEMACSCS-OWN", KNOWN_ISIN)] == (Decimal(99_993), Decimal(7))
    assert adapter.prepare(leg).state is LegState.PREPARED
    assert ledger.balances()[("DEMACSCS-OWN", KNOWN_ISIN)] == (Decimal(99_993), Decimal(7))
