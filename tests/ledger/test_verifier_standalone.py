"""The verifier a CSD runs offline: one file, no Django, no hub, public keys alone."""

import io
import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from hub.ledger import selectors, services
from hub.ledger.models import Entry

from ..conftest import REPO_ROOT
from .conftest import append_and_seal

VERIFIER = REPO_ROOT / "hub" / "ledger" / "verifier.py"

pytestmark = pytest.mark.django_db


def run_verifier(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(VERIFIER), *args], capture_output=True, text=True, timeout=60, cwd="/"
    )


def test_the_verifier_loads_without_django_or_any_of_the_hub():
    probe = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('ledger_verifier', {str(VERIFIER)!r})\n"
        "module = importlib.util.module_from_spec(spec); sys.modules['ledger_verifier'] = module\n"
        "spec.loader.exec_module(module)\n"
        "assert 'django' not in sys.modules and 'hub' not in sys.modules and 'celery' not in sys.modules\n"
        "print(module.PROOF_FORMAT)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd="/"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "csd-hub-ledger-proof/2"


@pytest.fixture
def proof_and_keys(tmp_path):
    append_and_seal(12, block_size=5)
    entry = Entry.objects.filter(kind="COMMIT", block__height=2).first()
    proof = selectors.entry_proof(entry_id=entry.id)
    keys = {"hub": selectors.hub_public_keys(), "csds": selectors.csd_public_keys(proof["block"]["csds"])}
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    return proof, tmp_path


def test_the_command_line_accepts_a_sound_proof_with_trusted_keys(proof_and_keys):
    proof, folder = proof_and_keys
    (folder / "proof.json").write_text(json.dumps(proof))
    result = run_verifier(str(folder / "proof.json"), "--keys", str(folder / "keys.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"OK: entry {proof['entry']['id']} (COMMIT {proof['entry']['reference']}) is in block 2"
        in result.stdout
    )


def test_the_command_line_rejects_a_proof_whose_entry_was_altered(proof_and_keys):
    proof, folder = proof_and_keys
    proof["entry"]["reference"] = "T-999999"
    (folder / "proof.json").write_text(json.dumps(proof))
    result = run_verifier(str(folder / "proof.json"), "--keys", str(folder / "keys.json"))
    assert result.returncode == 1
    assert "BROKEN: audit path: does not lead to the block's Merkle root" in result.stdout


def test_a_proof_signed_by_keys_the_csd_does_not_trust_is_rejected(proof_and_keys):
    proof, folder = proof_and_keys
    (folder / "proof.json").write_text(json.dumps(proof))
    (folder / "other.json").write_text(json.dumps({"hub": {}, "csds": {}}))
    result = run_verifier(str(folder / "proof.json"), "--keys", str(folder / "other.json"))
    assert result.returncode == 1
    assert "unknown hub key id" in result.stdout
    keys = json.loads((folder / "keys.json").read_text())
    (folder / "flat.json").write_text(json.dumps({"keys": {**keys["hub"], **keys["csds"]["NSD"]}}))
    flat = run_verifier(str(folder / "proof.json"), "--keys", str(folder / "flat.json"))
    assert flat.returncode == 1 and "keys must say whose they are" in flat.stdout
    without_keys = run_verifier(str(folder / "proof.json"))
    assert without_keys.returncode == 0 and "not from a trusted key file" in without_keys.stdout


def test_unusable_input_exits_with_status_2(tmp_path):
    (tmp_path / "proof.json").write_text("{not json")
    assert run_verifier(str(tmp_path / "proof.json")).returncode == 2


def test_the_proof_command_writes_what_the_verifier_accepts(tmp_path):
    append_and_seal(6, block_size=4)
    entry = Entry.objects.filter(kind="COMMIT").last()
    out = io.StringIO()
    call_command("ledger_proof", str(entry.id), stdout=out)
    (tmp_path / "proof.json").write_text(out.getvalue())
    result = run_verifier(str(tmp_path / "proof.json"))
    assert result.returncode == 0, result.stdout
    pending = services.entry_append(kind="ABORT", reference="T-LATE", csds=["NSD"], record={})
    with pytest.raises(CommandError, match=f"entry {pending.id} is not sealed in a block yet"):
        call_command("ledger_proof", str(pending.id))
