"""Endorsements through the CSDs' own adapters: each reference CSD signs block headers with its own key,
and the hub trusts the key its registry holds for that CSD."""

import re

import pytest

from csd_adapters.inprocess import LedgerAdapter
from csd_adapters.mx import MxAdapter
from csd_adapters.reference_csd.ledger import Ledger
from csd_adapters.transport import RetryPolicy
from hub.ledger import keys, selectors, services, verifier
from hub.ledger.endorsers import AdapterEndorser, RegistryEndorser
from hub.ledger.errors import (
    CsdKeyMissing,
    CsdNotConfigured,
    EndorsedOtherwise,
    EndorsementInvalid,
    EndorsementRefused,
    EndorserUnavailable,
)
from hub.ledger.models import Alarm, Block, Endorsement
from hub.registry.services import csd_key_change

from ..conftest import REPO_ROOT, free_port
from ..hub.registry.factories import two_linked_csds
from .conftest import seal_one

pytestmark = pytest.mark.django_db


def test_each_csd_endorses_through_its_adapter_with_its_own_key_and_the_chain_verifies(
    reference_csds, reference
):
    block = seal_one(reference)
    stored = services.block_endorse(block=block, endorser=AdapterEndorser(reference_csds.__getitem__))
    assert sorted(e.csd for e in stored) == ["NSD", "STRATE"]
    for endorsement in stored:
        ledger = reference_csds[endorsement.csd].ledger
        assert endorsement.key_id == ledger.key_id == verifier.key_id_for(ledger.public_key)
    assert selectors.chain_verify().first_break is None
    proof = selectors.entry_proof(entry_id=block.entries.get(kind="COMMIT").id)
    assert verifier.verify_proof(proof).holds


def test_an_endorsement_made_with_a_key_the_registry_does_not_hold_is_refused(
    reference_csds, reference, tmp_path
):
    impostor = LedgerAdapter(ledger=Ledger(f"sqlite:///{tmp_path / 'impostor'}.sqlite3"), csd="STRATE")
    adapters = {**reference_csds, "STRATE": impostor}
    block = seal_one(reference)
    with pytest.raises(EndorsementInvalid, match="STRATE's endorsement of block 1"):
        services.block_endorse(block=block, endorser=AdapterEndorser(adapters.__getitem__))
    assert list(Endorsement.objects.filter(block=block).values_list("csd", flat=True)) == ["NSD"]


def test_a_csd_that_cannot_be_reached_leaves_the_block_to_be_endorsed_later(reference_csds, reference):
    unreachable = MxAdapter(
        profile="NSD",
        base_url=f"http://127.0.0.1:{free_port()}",
        connect_timeout=0.5,
        retry=RetryPolicy(attempts=1),
    )
    block = seal_one(reference)
    with pytest.raises(EndorserUnavailable, match="NSD could not be asked to endorse now"):
        services.block_endorse(
            block=block, endorser=AdapterEndorser({**reference_csds, "NSD": unreachable}.__getitem__)
        )
    assert [b.height for b in selectors.blocks_missing_endorsements()] == [1]
    services.block_endorse(block=block, endorser=AdapterEndorser(reference_csds.__getitem__))
    assert list(selectors.blocks_missing_endorsements()) == []


def test_endorsements_gathered_before_a_csd_fails_are_kept_and_the_block_stays_pending(
    reference_csds, reference
):
    unreachable = MxAdapter(
        profile="STRATE",
        base_url=f"http://127.0.0.1:{free_port()}",
        connect_timeout=0.5,
        retry=RetryPolicy(attempts=1),
    )
    block = seal_one(reference)
    with pytest.raises(EndorserUnavailable, match="STRATE"):
        services.block_endorse(
            block=block, endorser=AdapterEndorser({**reference_csds, "STRATE": unreachable}.__getitem__)
        )
    assert list(Endorsement.objects.filter(block=block).values_list("csd", flat=True)) == ["NSD"]
    assert [b.height for b in selectors.blocks_missing_endorsements()] == [1]
    assert [str(f) for f in selectors.chain_verify().findings] == ["block 1: no endorsement by STRATE"]
    [late] = services.block_endorse(block=block, endorser=AdapterEndorser(reference_csds.__getitem__))
    assert late.csd == "STRATE" and selectors.chain_verify().first_break is None


def test_by_default_a_csd_the_registry_holds_a_key_for_endorses_itself_and_any_other_is_signed_locally(
    reference_csds,
):
    services.entry_append(kind="COMMIT", reference="T-REG", csds=["NSD", "STRATE", "KACD"], record={"q": "1"})
    [block] = services.blocks_seal_pending()
    services.block_endorse(block=block, endorser=RegistryEndorser(reference_csds.__getitem__))
    by_csd = dict(Endorsement.objects.filter(block=block).values_list("csd", "key_id"))
    assert by_csd["NSD"] == reference_csds["NSD"].ledger.key_id
    assert by_csd["STRATE"] == reference_csds["STRATE"].ledger.key_id
    assert by_csd["KACD"] == keys.csd_signer("KACD").key_id  # no key in the registry: the local signer
    assert selectors.chain_verify().first_break is None


def test_a_csd_that_cannot_endorse_one_block_holds_up_that_block_alone(
    reference_csds, reference, monkeypatch
):
    # NSD is down: the NSD-STRATE block waits, the STRATE-only block sealed after it is endorsed all the same
    down = MxAdapter(
        profile="NSD",
        base_url=f"http://127.0.0.1:{free_port()}",
        connect_timeout=0.5,
        retry=RetryPolicy(attempts=1),
    )
    adapters = {**reference_csds, "NSD": down}
    monkeypatch.setattr(services, "configured_endorser", lambda: AdapterEndorser(adapters.__getitem__))
    stuck = seal_one(reference)
    services.entry_append(kind="COMMIT", reference="T-UP", csds=["STRATE"], record={"q": "2"})
    assert services.blocks_seal_and_finalise() == [stuck.height + 1]
    assert [b.height for b in selectors.blocks_missing_endorsements()] == [stuck.height]
    endorsed = Endorsement.objects.filter(block__height=stuck.height + 1).values_list("csd", flat=True)
    assert list(endorsed) == ["STRATE"]


def test_a_csd_the_hub_holds_no_key_for_holds_up_its_own_blocks_only(settings, tmp_path):
    # production: no development key is made for a CSD new to the hub; the CSDs it already knows endorse
    settings.LEDGER_GENERATE_DEV_KEYS = False
    settings.LEDGER_KEY_DIR = tmp_path
    settings.LEDGER_HUB_KEY = keys.Signer.generate().seed_text
    for code in ("NSD", "STRATE"):
        keys.key_file_write(keys.csd_key_path(code), keys.Signer.generate())
    services.entry_append(kind="COMMIT", reference="T-NEW", csds=["NEWCSD", "NSD"], record={"q": "1"})
    services.blocks_seal_pending()
    services.entry_append(kind="COMMIT", reference="T-LATER", csds=["STRATE"], record={"q": "2"})
    assert services.blocks_seal_and_finalise() == [2]
    assert sorted(Endorsement.objects.values_list("block__height", "csd")) == [(1, "NSD"), (2, "STRATE")]
    assert [b.height for b in selectors.blocks_missing_endorsements()] == [1]
    with pytest.raises(CsdKeyMissing, match="no endorsement key for CSD NEWCSD"):
        services.block_endorse(block=Block.objects.get(height=1))


def test_a_csd_that_is_down_is_asked_once_a_round_and_the_other_csds_of_its_blocks_still_endorse(
    reference_csds, monkeypatch
):
    down = MxAdapter(
        profile="NSD",
        base_url=f"http://127.0.0.1:{free_port()}",
        connect_timeout=0.5,
        retry=RetryPolicy(attempts=1),
    )
    asked = []

    def adapter_for(code: str):
        asked.append(code)
        return down if code == "NSD" else reference_csds[code]

    monkeypatch.setattr(services, "configured_endorser", lambda: AdapterEndorser(adapter_for))
    for n in range(3):
        services.entry_append(kind="COMMIT", reference=f"T-{n}", csds=["NSD", "STRATE"], record={"q": "1"})
        services.blocks_seal_pending()
    services.blocks_seal_and_finalise()
    assert asked.count("NSD") == 1 and asked.count("STRATE") == 3
    assert sorted(Endorsement.objects.values_list("block__height", "csd")) == [
        (1, "STRATE"),
        (2, "STRATE"),
        (3, "STRATE"),
    ]
    assert [b.height for b in selectors.blocks_missing_endorsements()] == [1, 2, 3]


def test_a_csd_that_endorsed_another_block_at_a_height_refuses_the_hubs_and_that_block_waits(reference_csds):
    block = seal_one("T-FORK")
    forked = selectors.block_header(block) | {"merkle_root": "ee" * 32}  # another hub's block 1, say
    reference_csds["NSD"].endorse(verifier.header_bytes(forked))
    with pytest.raises(EndorsementRefused, match="NSD refused to endorse: NSD endorsed block"):
        services.block_endorse(block=block, endorser=AdapterEndorser(reference_csds.__getitem__))
    assert list(Endorsement.objects.filter(block=block).values_list("csd", flat=True)) == ["STRATE"]
    assert [b.height for b in selectors.blocks_missing_endorsements()] == [block.height]


def test_a_csd_that_endorsed_other_blocks_at_the_hubs_heights_is_an_error_and_an_alarm_naming_it(
    reference_csds, monkeypatch, caplog
):
    # the hub lost blocks 1 and 2 (a restore) after NSD had endorsed them, and sealed those heights again
    adapters = reference_csds.__getitem__
    monkeypatch.setattr(services, "configured_endorser", lambda: AdapterEndorser(adapters))
    for n in range(3):
        services.entry_append(kind="COMMIT", reference=f"T-{n}", csds=["NSD", "STRATE"], record={"q": "1"})
        block = services.blocks_seal_pending()[0]
        if block.height < 3:
            lost = selectors.block_header(block) | {"merkle_root": f"{n + 1}e" * 32}
            reference_csds["NSD"].endorse(verifier.header_bytes(lost))
    with pytest.raises(EndorsedOtherwise, match="NSD refused to endorse: NSD endorsed block .* at height 1"):
        services.block_endorse(block=Block.objects.get(height=1), endorser=AdapterEndorser(adapters))
    with caplog.at_level("WARNING", logger="hub.ledger.services"):
        services.blocks_seal_and_finalise()
    [error] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "NSD endorsed other blocks at heights 1 to 2 (2 blocks)" in error.getMessage()
    # and it says where the operator's steps are: a section of the ledger's README
    runbook = re.search(r'Runbook: "([^"]+)" in hub/ledger/README.md', error.getMessage()).group(1)
    headings = (REPO_ROOT / "hub" / "ledger" / "README.md").read_text().splitlines()
    assert f"## Runbook: {runbook[0].lower()}{runbook[1:]}" in headings
    assert not [r for r in caplog.records if r.levelname == "WARNING" and "NSD" in r.getMessage()]
    alarm = Alarm.objects.get()
    assert (alarm.kind, alarm.csd, alarm.first_height, alarm.last_height) == ("OTHERWISE", "NSD", 1, 2)
    assert sorted(Endorsement.objects.filter(csd="NSD").values_list("block__height", flat=True)) == [3]
    assert [b.height for b in selectors.blocks_missing_endorsements()] == [1, 2]

    # the CSD's operator decides to endorse the hub's chain again from height 1 up: the next round does
    reference_csds["NSD"].ledger.endorsements_release(from_height=1)
    services.blocks_seal_and_finalise()
    assert list(selectors.blocks_missing_endorsements()) == [] and not Alarm.objects.exists()
    assert selectors.chain_verify().first_break is None


def test_a_csd_the_hub_cannot_reach_as_configured_holds_up_its_own_blocks_and_the_round_goes_on(caplog):
    # NSD's key is in the registry but not where to reach it (no base_url); GHOST is in no registry at all
    nsd, _strate, _link = two_linked_csds()
    csd_key_change(csd=nsd, public_key=keys.Signer.generate().public_key, cause="test")
    for n, csds in enumerate((["NSD", "STRATE"], ["NSD"], ["STRATE"])):
        services.entry_append(kind="COMMIT", reference=f"T-{n}", csds=csds, record={"q": "1"})
        services.blocks_seal_pending()
    with caplog.at_level("WARNING", logger="hub.ledger.services"):
        assert services.blocks_seal_and_finalise() == []
    assert sorted(Endorsement.objects.values_list("block__height", "csd")) == [(1, "STRATE"), (3, "STRATE")]
    assert [b.height for b in selectors.blocks_missing_endorsements()] == [1, 2]
    [waits] = [r.getMessage() for r in caplog.records if "NSD's endorsement" in r.getMessage()]
    assert "block 1 waits for NSD's endorsement: NSD cannot be asked to endorse" in waits
    assert "no adapter_config base_url" in waits  # asked once a round, not once a block
    from hub.settlement.tasks import transfers_anchor_and_release

    assert transfers_anchor_and_release() == 0  # the release of final transfers is reached

    services.entry_append(kind="COMMIT", reference="T-GHOST", csds=["GHOST"], record={"q": "1"})
    [ghost] = services.blocks_seal_pending()
    with pytest.raises(CsdNotConfigured, match="GHOST is not in the hub's registry"):
        services.block_endorse(block=ghost, endorser=AdapterEndorser())
