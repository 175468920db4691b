"""ledger_verify --keys: the whole chain checked against public keys a CSD or an auditor holds itself, not
against the hub's registry, which whoever can edit the hub's database can edit too."""

import base64
import json

import pytest
from django.core.management import CommandError, call_command

from csd_adapters.inprocess import LedgerAdapter
from csd_adapters.reference_csd.ledger import Ledger
from hub.ledger import keys, selectors, services
from hub.ledger.endorsers import AdapterEndorser
from hub.registry.models import CSD
from hub.registry.services import csd_key_change

from .conftest import seal_one
from .test_tampering import triggers_off

pytestmark = pytest.mark.django_db


def key_file(path, *, hub: dict, csds: dict) -> str:
    path.write_text(json.dumps({"hub": hub, "csds": csds}))
    return str(path)


def held_by_the_csds(adapters) -> dict:
    """Each CSD's key as the CSD itself knows it, not as the hub's registry says."""
    return {
        code: {adapter.ledger.key_id: base64.b64encode(adapter.ledger.public_key).decode()}
        for code, adapter in adapters.items()
    }


@pytest.fixture
def endorsed_chain(reference_csds):
    for n in range(3):
        block = seal_one(f"T-KEYS-{n}")
        services.block_endorse(block=block, endorser=AdapterEndorser(reference_csds.__getitem__))
    return reference_csds


def test_a_chain_verifies_with_the_keys_the_csds_hold(endorsed_chain, tmp_path, capsys):
    path = key_file(
        tmp_path / "keys.json", hub=selectors.hub_public_keys(), csds=held_by_the_csds(endorsed_chain)
    )
    call_command("ledger_verify", "--keys", path)
    assert capsys.readouterr().out == f"OK: 3 blocks, 4 entries verified, with the keys of {path}\n"


def test_endorsements_forged_with_keys_put_in_the_registry_pass_on_the_registry_but_not_on_the_csds_keys(
    endorsed_chain, tmp_path
):
    # someone with database access, without any CSD's key: endorsements of their own, and the registry
    # edited to hold their keys
    forged = {
        code: LedgerAdapter(ledger=Ledger(f"sqlite:///{tmp_path / code}-forged.sqlite3"), csd=code)
        for code in endorsed_chain
    }
    with triggers_off() as sql:
        sql.execute("DELETE FROM ledger_endorsement")
    for code, adapter in forged.items():
        csd_key_change(
            csd=CSD.objects.get(code=code),
            public_key=base64.b64encode(adapter.ledger.public_key).decode(),
            cause="the forger, through the admin",
        )
    for block in selectors.blocks_missing_endorsements():
        services.block_endorse(block=block, endorser=AdapterEndorser(forged.__getitem__))
    call_command("ledger_verify")  # the registry vouches for the forger's keys
    path = key_file(
        tmp_path / "keys.json", hub=selectors.hub_public_keys(), csds=held_by_the_csds(endorsed_chain)
    )
    with pytest.raises(
        CommandError, match="first break at block 1: endorsement by NSD with key id"
    ) as raised:
        call_command("ledger_verify", "--keys", path)
    assert raised.value.returncode == 1 and "not a key of NSD" in str(raised.value)


def test_a_block_signed_by_a_hub_key_the_file_does_not_trust_is_a_break(endorsed_chain, tmp_path):
    stranger = keys.Signer.generate()
    path = key_file(
        tmp_path / "keys.json",
        hub={stranger.key_id: stranger.public_key},
        csds=held_by_the_csds(endorsed_chain),
    )
    with pytest.raises(
        CommandError,
        match=f"first break at block 1: signed with hub key {keys.hub_signer().key_id}, not a trusted hub key",
    ):
        call_command("ledger_verify", "--keys", path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "Expecting property name"),
        ('{"NSD": "key"}', "keys must say whose they are"),
        (
            '{"hub": {"0123456789abcdef": "AAAA"}, "csds": {}}',
            "the hub's key id 0123456789abcdef does not match",
        ),
        (
            '{"hub": {}, "csds": {"NSD": "MCowBQYDK2VwAyEA"}}',
            r"NSD's keys must be an object \{key id: key\}, not a str",
        ),
        ('{"hub": {}, "csds": {"NSD": {}, "STRATE": ["k"]}}', "STRATE's keys must be an object"),
    ],
)
def test_a_key_file_that_cannot_be_used_is_refused_with_an_exit_status_of_its_own(tmp_path, content, problem):
    (tmp_path / "keys.json").write_text(content)
    with pytest.raises(CommandError, match=f"unusable key file .*keys.json: .*{problem}") as raised:
        call_command("ledger_verify", "--keys", str(tmp_path / "keys.json"))
    assert raised.value.returncode == 2
