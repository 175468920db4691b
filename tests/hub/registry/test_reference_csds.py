"""`manage.py reference_csds export` writes each reference CSD's seed from the registry and records on the
CSD row where it listens and its key; the adapter the hub builds from that row settles a leg over HTTP."""

import base64
import json
import socket
import sys
import uuid
from decimal import Decimal
from io import StringIO

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings
from nacl.signing import VerifyKey

from csd_adapters.base import InsufficientSecurities, Leg, LegState
from csd_adapters.mt import MtAdapter
from csd_adapters.mx import MxAdapter
from csd_adapters.profiles import PROFILES
from csd_adapters.reference_csd.ledger import Ledger
from hub.ledger import services, verifier
from hub.registry.adapters import csd_adapter, csd_profile
from hub.registry.demo import OPENING, demo_isin, demo_participant_bic, demo_seed
from hub.registry.models import CSD, CSDKey, Holding, SecuritiesAccount
from hub.registry.reference_csds import DEFAULT_PORTS, reference_csd_database, reference_csd_seed_path

from ...conftest import free_port, running

pytestmark = pytest.mark.django_db


def export(directory, *args: str) -> str:
    out = StringIO()
    call_command("reference_csds", "export", "--dir", str(directory), *args, stdout=out)
    return out.getvalue()


def test_export_writes_every_account_security_and_holding_of_each_csd_and_records_its_endpoint(tmp_path):
    demo_seed()
    output = export(tmp_path)
    assert "5 reference CSDs exported" in output
    for csd in CSD.objects.all():
        document = json.loads(reference_csd_seed_path(tmp_path, csd.code).read_text())
        assert document["opening_date"] == OPENING.date().isoformat() == "2026-01-02"
        accounts = {(a["number"], a["kind"]) for a in document["accounts"]}
        assert accounts == set(SecuritiesAccount.objects.filter(csd=csd).values_list("number", "kind"))
        positions = {(p["account"], p["isin"]): Decimal(p["quantity"]) for p in document["positions"]}
        holdings = Holding.objects.filter(account__csd=csd)
        assert positions == {(h.account.number, h.security.isin): h.quantity for h in holdings}
        assert {s["isin"]: s["face_amount"] for s in document["securities"]} == {
            h.security.isin: h.security.denomination == "FAMT" for h in holdings
        }
        for isin in {isin for _, isin in positions}:  # each security's opening postings balance
            assert sum(q for (_, i), q in positions.items() if i == isin) == 0
        assert csd.adapter_config == {"base_url": f"http://127.0.0.1:{DEFAULT_PORTS[csd.code]}"}
        assert csd.adapter == {"MX": "iso20022_mx", "MT": "iso15022_mt"}[csd.message_standard]
        assert len(base64.b64decode(csd.signing_public_key, validate=True)) == 32
        csd.full_clean()
    nsd = json.loads(reference_csd_seed_path(tmp_path, "NSD").read_text())
    assert {"isin": demo_isin("RU", "02"), "face_amount": True} in nsd["securities"]
    assert {"account": "ISSUANCE", "isin": demo_isin("RU", "01"), "quantity": "-1600000"} in nsd["positions"]


def test_a_second_export_changes_nothing_and_a_port_can_be_moved(tmp_path):
    demo_seed()
    export(tmp_path)
    before = {c.code: (c.adapter_config, c.signing_public_key) for c in CSD.objects.all()}
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    again = export(tmp_path)
    assert "(updated)" not in again and again.count("(unchanged)") == 5
    assert {c.code: (c.adapter_config, c.signing_public_key) for c in CSD.objects.all()} == before
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files  # same keys, same seeds

    moved = export(tmp_path, "--port", "nsd=9201", "--base-url", "http://refcsd-{code}:{port}")
    assert moved.count("(updated)") == 5
    nsd = CSD.objects.get(code="NSD")
    assert nsd.adapter_config == {"base_url": "http://refcsd-nsd:9201"}
    assert nsd.signing_public_key == before["NSD"][1]  # the CSD's key lives in its own database
    with pytest.raises(CommandError, match="CODE=PORT"):
        export(tmp_path, "--port", "NSD")


def leg(csd: CSD, isin: str, quantity: int) -> Leg:
    return Leg(
        leg_id=f"test-{uuid.uuid4()}",
        csd=csd.code,
        isin=isin,
        quantity=Decimal(quantity),
        debit_account=f"{demo_participant_bic(csd.bic, 'A')}-OWN",
        credit_account=f"{demo_participant_bic(csd.bic, 'B')}-OWN",
        intended_settlement_date=csd_profile(csd).business_date(),
        transfer_reference="T-ADAPTER",
    )


@pytest.mark.slow
@pytest.mark.parametrize(("code", "adapter_class"), [("NSD", MxAdapter), ("STRATE", MtAdapter)])
def test_the_adapter_built_from_the_csd_row_settles_a_leg_at_its_reference_csd(tmp_path, code, adapter_class):
    demo_seed()
    port = free_port()
    export(tmp_path, "--port", f"{code}={port}")
    csd = CSD.objects.get(code=code)
    seed = reference_csd_seed_path(tmp_path, code)
    database = f"sqlite:///{tmp_path / code.lower()}.sqlite3"
    command = [sys.executable, "-m", "csd_adapters.reference_csd", "serve", "--csd", code]
    command += ["--port", str(port), "--database", database, "--seed", str(seed)]
    with running(command) as server:
        base_url = csd.adapter_config["base_url"]

        def up() -> bool:
            try:
                return requests.get(f"{base_url}/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        server.wait_until(up, timeout=30, what=f"the reference CSD of {code} did not start")
        adapter = csd_adapter(csd)
        assert isinstance(adapter, adapter_class) and csd_adapter(CSD.objects.get(code=code)) is adapter
        assert adapter.health().ok

        isin = demo_isin(csd.country, "01")
        moved = leg(csd, isin, 40)
        assert adapter.prepare(moved).state == LegState.PREPARED
        committed = adapter.commit(moved)
        assert committed.state == LegState.COMMITTED
        today = committed.settlement_date  # the CSD's business date, in its own time zone
        debit = adapter.holdings(account=moved.debit_account, as_of=today).position(isin)
        credit = adapter.holdings(account=moved.credit_account, as_of=today).position(isin)
        assert (debit.total, credit.total) == (Decimal(100_000 - 40), Decimal(100_000 + 40))  # the demo lot
        with pytest.raises(InsufficientSecurities):
            adapter.prepare(leg(csd, isin, 100_000))  # 99 960 left: the opening positions are the hub's

        header = verifier.header_bytes(  # a block naming this CSD: the only bytes a CSD endorses
            {
                "version": verifier.HEADER_VERSION,
                "height": 1,
                "previous_hash": "00" * 32,
                "merkle_root": "11" * 32,
                "entry_count": 1,
                "sealed_at": "2026-11-26T09:00:00.000000Z",
                "hub_key_id": "0123456789abcdef",
                "csds": [code],
            }
        )
        endorsement = adapter.endorse(header)
        VerifyKey(base64.b64decode(csd.signing_public_key)).verify(header, endorsement.signature)

        with override_settings(HUB_BIC="CSDHUBZZ"):
            assert csd_adapter(csd) is not adapter  # the hub's BIC is part of the adapter's settings


def test_a_csd_without_a_base_url_or_with_an_unknown_adapter_has_no_adapter():
    demo_seed()
    csd = CSD.objects.get(code="KACD")
    with pytest.raises(ImproperlyConfigured, match="reference_csds export"):
        csd_adapter(csd)
    csd.adapter_config = {"base_url": "http://127.0.0.1:1", "colour": "red"}
    with pytest.raises(ImproperlyConfigured, match="colour"):
        csd_adapter(csd)
    csd.adapter, csd.adapter_config = "carrier_pigeon", {"base_url": "http://127.0.0.1:1"}
    with pytest.raises(ImproperlyConfigured, match="carrier_pigeon"):
        csd_adapter(csd)


def test_a_csd_row_whose_timeout_is_no_number_has_no_adapter_and_the_error_names_the_csd():
    demo_seed()
    csd = CSD.objects.get(code="KACD")
    csd.adapter_config = {"base_url": "http://127.0.0.1:1", "read_timeout": "ten"}
    with pytest.raises(ImproperlyConfigured, match="KACD: adapter_config: read_timeout 'ten'"):
        csd_adapter(csd)


def test_an_export_with_a_base_url_that_is_no_http_url_stops_with_a_message(tmp_path):
    demo_seed()
    with pytest.raises(CommandError, match="is not an http or https URL"):
        export(tmp_path, "--base-url", "refcsd-{code}:{port}")


def nsd_ledger(directory) -> Ledger:
    return Ledger(reference_csd_database(directory, "NSD"), timezone=PROFILES["NSD"].timezone)


def old_hubs_work(directory, *, heights: int) -> None:
    """What a reference CSD of NSD keeps from a hub whose database is gone: its opening books, a transfer's
    delivery, and its endorsements of that hub's blocks 1 to ``heights``."""
    ledger = nsd_ledger(directory)
    ledger.seed(json.loads(reference_csd_seed_path(directory, "NSD").read_text()))
    isin, bic = demo_isin("RU", "01"), CSD.objects.get(code="NSD").bic
    ledger.issue(
        reference="OLD-HUB-T1", account=f"{demo_participant_bic(bic, 'A')}-OWN", isin=isin, quantity=5
    )
    for height in range(1, heights + 1):
        header = {
            "version": verifier.HEADER_VERSION,
            "height": height,
            "previous_hash": "ab" * 32,
            "merkle_root": "cd" * 32,
            "entry_count": 1,
            "sealed_at": "2026-11-26T09:00:00.000000Z",
            "hub_key_id": "0123456789abcdef",
            "csds": ["NSD"],
        }
        ledger.endorse(verifier.header_bytes(header), csd="NSD")
    ledger.close()


def export_on_free_ports(directory) -> str:
    """The export, with every reference CSD on a port nothing listens on (none of them is running)."""
    ports = [f"{code}={free_port()}" for code in DEFAULT_PORTS]
    return export(directory, *[arg for port in ports for arg in ("--port", port)])


def test_a_reference_csd_with_a_new_key_gets_it_through_its_key_history_and_keeps_the_old_one(tmp_path):
    demo_seed()
    export(tmp_path)
    old = CSD.objects.get(code="NSD").signing_public_key
    for part in tmp_path.glob("nsd.sqlite3*"):  # its database lost: it makes a new key at its next start
        part.unlink()
    assert "NSD: http://127.0.0.1:9101, seed" in export(tmp_path)
    nsd = CSD.objects.get(code="NSD")
    assert nsd.signing_public_key != old
    history = list(CSDKey.objects.filter(csd=nsd).order_by("in_force_from"))
    assert [k.public_key for k in history] == [old, nsd.signing_public_key]
    assert history[0].retired_at == history[1].in_force_from
    assert history[1].cause == "manage.py reference_csds export: the reference CSD's key"


def test_export_starts_afresh_a_reference_csd_that_outlived_the_hubs_database_and_keeps_its_key(tmp_path):
    demo_seed()
    export_on_free_ports(tmp_path)
    key = CSD.objects.get(code="NSD").signing_public_key
    old_hubs_work(tmp_path, heights=3)  # this test's hub has sealed nothing: its database was recreated

    output = export_on_free_ports(tmp_path)
    assert output.count("the hub's database was recreated") == 1
    assert "NSD: its reference CSD" in output and "endorsed the hub's ledger up to height 3" in output
    assert "the hub's ledger holds 0 blocks" in output and "(the same key) books the seed file" in output
    [aside] = [
        p for p in tmp_path.iterdir() if p.name.startswith("nsd.sqlite3.stale-") and p.name.endswith("Z")
    ]
    assert aside.name in output
    fresh = nsd_ledger(tmp_path)
    assert fresh.endorsements() == {"highest": None, "heights": 0, "heights_released": 0}
    assert (
        base64.b64encode(fresh.public_key).decode() == key == CSD.objects.get(code="NSD").signing_public_key
    )
    # its books are the registry's demo data again: the seed books, and nothing of the old hub is there
    seed = json.loads(reference_csd_seed_path(tmp_path, "NSD").read_text())
    assert fresh.seed(seed).startswith("seeded ") and fresh.discrepancies() == []
    fresh.close()
    kept = Ledger(f"sqlite:///{aside}")
    assert kept.endorsements()["highest"] == 3 and kept.key_id == verifier.key_id_for(base64.b64decode(key))
    kept.close()
    assert "recreated" not in export_on_free_ports(tmp_path)  # once is enough


def test_a_reference_csd_that_endorsed_no_higher_than_the_hubs_chain_is_left_as_it_is(tmp_path):
    demo_seed()
    export_on_free_ports(tmp_path)
    for n in range(3):
        services.entry_append(kind="COMMIT", reference=f"T-{n}", csds=["NSD"], record={"q": "1"})
        services.blocks_seal_pending()
    old_hubs_work(tmp_path, heights=3)
    assert "recreated" not in export_on_free_ports(tmp_path)
    assert nsd_ledger(tmp_path).endorsements()["highest"] == 3
    assert not [p for p in tmp_path.iterdir() if ".stale-" in p.name]


def test_a_reference_csd_that_outlived_the_hubs_database_and_is_running_is_not_touched(tmp_path):
    demo_seed()
    export_on_free_ports(tmp_path)
    old_hubs_work(tmp_path, heights=2)
    with socket.socket() as running_csd:
        running_csd.bind(("127.0.0.1", 0))
        running_csd.listen()
        port = running_csd.getsockname()[1]
        with pytest.raises(CommandError, match="endorsed the hub's ledger up to height 2") as refused:
            export(tmp_path, "--port", f"NSD={port}")
    assert f"It is running at http://127.0.0.1:{port}, so its database is not replaced" in str(refused.value)
    assert f"""-d '{{"from_height": 1}}' http://127.0.0.1:{port}/admin/endorsements/release""" in str(
        refused.value
    )
    assert nsd_ledger(tmp_path).endorsements()["highest"] == 2
    assert not [p for p in tmp_path.iterdir() if ".stale-" in p.name]
