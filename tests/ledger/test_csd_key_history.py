"""A CSD's key has a history: when a CSD changes its key, what it endorsed with the old one still verifies,
and the old key endorses nothing after it was retired."""

import base64

import pytest
from django.core.management import CommandError, call_command

from csd_adapters.inprocess import LedgerAdapter
from csd_adapters.reference_csd.ledger import Ledger
from hub.ledger import selectors, services, verifier
from hub.ledger.endorsers import AdapterEndorser, LocalEndorser
from hub.ledger.errors import EndorsementInvalid
from hub.ledger.models import Endorsement
from hub.registry.models import CSD
from hub.registry.services import csd_key_change

from ..hub.registry.factories import two_linked_csds
from .conftest import seal_one

pytestmark = pytest.mark.django_db


def public_key(adapter: LedgerAdapter) -> str:
    return base64.b64encode(adapter.ledger.public_key).decode()


@pytest.fixture
def rotated(reference_csds, tmp_path):
    """Block 1 endorsed by NSD's first key; then NSD changes its key in the registry."""
    first = seal_one("T-BEFORE")
    services.block_endorse(block=first, endorser=AdapterEndorser(reference_csds.__getitem__))
    new = LedgerAdapter(ledger=Ledger(f"sqlite:///{tmp_path / 'NSD-new'}.sqlite3"), csd="NSD")
    csd_key_change(csd=CSD.objects.get(code="NSD"), public_key=public_key(new), cause="test: NSD's new key")
    return {"old": reference_csds, "new": {**reference_csds, "NSD": new}, "first": first}


def test_what_a_csd_endorsed_with_its_old_key_still_verifies_after_it_changes_its_key(rotated, capsys):
    call_command("ledger_verify")
    assert capsys.readouterr().out.startswith("OK: 1 blocks")
    proof = selectors.entry_proof(entry_id=rotated["first"].entries.get(kind="COMMIT").id)
    assert verifier.verify_proof(proof).holds


def test_after_the_change_a_block_is_endorsed_with_the_new_key_and_never_with_the_old_one(rotated, capsys):
    second = seal_one("T-AFTER")
    with pytest.raises(EndorsementInvalid, match="NSD's endorsement of block 2"):
        services.block_endorse(block=second, endorser=AdapterEndorser(rotated["old"].__getitem__))
    assert list(Endorsement.objects.filter(block=second).values_list("csd", flat=True)) == ["STRATE"]
    services.block_endorse(block=second, endorser=AdapterEndorser(rotated["new"].__getitem__))
    call_command("ledger_verify")
    assert capsys.readouterr().out.startswith("OK: 2 blocks")


def test_an_endorsement_made_with_the_retired_key_and_written_into_the_database_is_a_break(rotated):
    second = seal_one("T-AFTER")
    header = verifier.header_bytes(selectors.block_header(second))
    old = rotated["old"]["NSD"].endorse(header)  # someone who still holds NSD's old key
    Endorsement.objects.create(
        block=second, csd="NSD", key_id=old.key_id, signature=base64.b64encode(old.signature).decode()
    )
    services.block_endorse(block=second, endorser=AdapterEndorser(rotated["new"].__getitem__))
    with pytest.raises(
        CommandError, match=f"block 2: endorsement by NSD with key {old.key_id}.*not in force"
    ):
        call_command("ledger_verify")


def test_an_endorsement_made_with_a_key_retired_while_the_csd_was_asked_is_refused_and_asked_again(
    reference_csds, tmp_path
):
    new = LedgerAdapter(ledger=Ledger(f"sqlite:///{tmp_path / 'NSD-new'}.sqlite3"), csd="NSD")

    class ChangesItsKeyMidway:
        """NSD answers with its old key, and its key changes before the hub stores the answer."""

        def __init__(self, adapter):
            self.adapter = adapter

        def endorse(self, header):
            signed = self.adapter.endorse(header)
            csd_key_change(csd=CSD.objects.get(code="NSD"), public_key=public_key(new), cause="test: midway")
            return signed

    block = seal_one("T-MIDWAY")
    midway = {**reference_csds, "NSD": ChangesItsKeyMidway(reference_csds["NSD"])}
    with pytest.raises(EndorsementInvalid, match="made with a key retired while it was asked"):
        services.block_endorse(block=block, endorser=AdapterEndorser(midway.__getitem__))
    assert list(Endorsement.objects.filter(block=block).values_list("csd", flat=True)) == ["STRATE"]
    services.block_endorse(block=block, endorser=AdapterEndorser({**reference_csds, "NSD": new}.__getitem__))
    assert Endorsement.objects.get(block=block, csd="NSD").key_id == new.ledger.key_id
    assert selectors.chain_verify().first_break is None


def test_a_proof_offers_the_key_in_force_when_each_csd_endorsed_its_block_not_every_key_it_had(rotated):
    proof = selectors.entry_proof(entry_id=rotated["first"].entries.get(kind="COMMIT").id)
    assert proof["public_keys"]["csds"]["NSD"] == {
        rotated["old"]["NSD"].ledger.key_id: public_key(rotated["old"]["NSD"])
    }


def test_the_local_key_that_endorsed_for_a_csd_before_the_registry_had_its_key_endorses_nothing_after(
    tmp_path,
):
    nsd, _strate, _link = two_linked_csds()
    first = seal_one("T-LOCAL")
    services.block_endorse(block=first)  # the registry has no key for either: the local signer endorses
    local_key_id = Endorsement.objects.get(block=first, csd="NSD").key_id
    own = LedgerAdapter(ledger=Ledger(f"sqlite:///{tmp_path / 'NSD'}.sqlite3"), csd="NSD")
    csd_key_change(csd=nsd, public_key=public_key(own), cause="test: NSD endorses itself from now")
    assert selectors.chain_verify().first_break is None  # what the local key endorsed still counts

    second = seal_one("T-LOCAL-AFTER")
    header = verifier.header_bytes(selectors.block_header(second))
    stale = LocalEndorser().endorse(csd_code="NSD", header=header)
    Endorsement.objects.create(block=second, csd="NSD", key_id=stale.key_id, signature=stale.signature)
    [finding] = [f for f in selectors.chain_verify().findings if "NSD" in f.problem]
    assert str(finding).startswith(f"block 2: endorsement by NSD with key {local_key_id} stored at ")
    assert "when that key was not in force (in force the start to " in finding.problem
