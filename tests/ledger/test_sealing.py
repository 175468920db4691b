"""Entries are appended, sealed into signed blocks in batches, endorsed, and proven with public keys alone."""

import json

import pytest
from django.db import IntegrityError, transaction

from hub.ledger import selectors, services, verifier
from hub.ledger.errors import EntryInvalid
from hub.ledger.models import Block, Endorsement, Entry

from .conftest import append_and_seal, drafts

pytestmark = pytest.mark.django_db


def test_a_committed_transfer_is_sealed_into_a_signed_block_with_the_hubs_first_key_announced(reference):
    entry = services.entry_append(
        kind="COMMIT", reference=reference, csds=["STRATE", "NSD"], record={"q": "1"}
    )
    [block] = services.blocks_seal_pending()
    entry.refresh_from_db()
    assert entry.block == block and block.height == 1 and block.entry_count == 2
    assert block.csd_codes == ["NSD", "STRATE"]
    assert Entry.objects.get(block=block, kind="HUB_KEY").reference == f"hub-key:{block.hub_key_id}"
    assert services.blocks_seal_pending() == []


def test_nothing_pending_seals_no_block():
    assert services.block_seal() is None
    assert not Block.objects.exists()


def test_blocks_link_by_hash_and_heights_rise_by_one():
    blocks = append_and_seal(25, block_size=10)
    assert [b.height for b in blocks] == [1, 2, 3]
    assert blocks[0].previous_hash == verifier.GENESIS_PREVIOUS_HASH
    for earlier, later in zip(blocks, blocks[1:], strict=False):
        assert later.previous_hash == earlier.block_hash


def test_proofs_verify_for_every_entry_across_many_blocks_with_public_keys_alone():
    append_and_seal(120, block_size=17)
    assert Block.objects.count() == 8
    keys = {
        "hub": selectors.hub_public_keys(),
        "csds": selectors.csd_public_keys(["NSD", "STRATE", "CSCS", "KACD", "MCDR", "CDSC"]),
    }
    for entry_id in Entry.objects.values_list("id", flat=True):
        proof = json.loads(json.dumps(selectors.entry_proof(entry_id=entry_id)))
        result = verifier.verify_proof(proof, keys)
        assert result.holds, (entry_id, result.findings)


def test_a_proof_for_another_entry_or_a_forged_endorsement_does_not_hold():
    append_and_seal(30, block_size=30)
    first, second = Entry.objects.filter(kind="COMMIT").values_list("id", flat=True)[:2]
    proof = selectors.entry_proof(entry_id=first)
    proof["entry"] = selectors.entry_proof(entry_id=second)["entry"]
    assert not verifier.verify_proof(proof).holds
    proof = selectors.entry_proof(entry_id=first)
    proof["endorsements"][0]["signature"] = proof["hub_signature"]["signature"]
    problems = [str(f) for f in verifier.verify_proof(proof).findings]
    assert any("does not verify" in p for p in problems)
    proof = selectors.entry_proof(entry_id=first)
    proof["endorsements"].pop()
    assert any("no endorsement by" in str(f) for f in verifier.verify_proof(proof).findings)


def test_no_key_stands_in_for_a_party_it_does_not_belong_to():
    # the hub signs the header; a CSD endorses the same bytes: a signature of the one is still no
    # endorsement by another, nor the hub's own signature
    append_and_seal(4, block_size=10)
    entry = Entry.objects.filter(kind="COMMIT", csds="NSD,STRATE").first()
    sound = selectors.entry_proof(entry_id=entry.id)
    keys = {"hub": selectors.hub_public_keys(), "csds": selectors.csd_public_keys(sound["block"]["csds"])}
    assert verifier.verify_proof(sound, keys).holds
    hub_signature = sound["hub_signature"]
    by_hub = json.loads(json.dumps(sound))
    by_hub["endorsements"] = [
        {"csd": code, "key_id": hub_signature["key_id"], "signature": hub_signature["signature"]}
        for code in sound["block"]["csds"]
    ]
    problems = [str(f) for f in verifier.verify_proof(by_hub, keys).findings]
    assert any("not a key of NSD" in p for p in problems) and any(
        "not a key of STRATE" in p for p in problems
    )
    nsd = next(e for e in sound["endorsements"] if e["csd"] == "NSD")
    by_nsd = json.loads(json.dumps(sound))
    by_nsd["endorsements"] = [e for e in sound["endorsements"] if e["csd"] != "STRATE"] + [
        {**nsd, "csd": "STRATE"}
    ]
    assert any("not a key of STRATE" in str(f) for f in verifier.verify_proof(by_nsd, keys).findings)
    # and a CSD's key is no hub key
    as_hub = json.loads(json.dumps(sound))
    as_hub["block"]["hub_key_id"] = as_hub["hub_signature"]["key_id"] = nsd["key_id"]
    as_hub["hub_signature"]["signature"] = nsd["signature"]
    assert any("unknown hub key id" in str(f) for f in verifier.verify_proof(as_hub, keys).findings)


def test_a_block_that_leaves_out_a_csd_its_entry_involves_does_not_spare_that_csds_endorsement():
    append_and_seal(4, block_size=10)
    entry = Entry.objects.filter(kind="COMMIT", csds="NSD,STRATE").first()
    proof = selectors.entry_proof(entry_id=entry.id)
    proof["block"]["csds"] = []  # re-signed by the hub, no CSD would be asked to endorse it
    proof["endorsements"] = []
    findings = [str(f) for f in verifier.verify_proof(proof).findings]
    assert "block: it does not name NSD, STRATE, which the entry involves" in findings


def test_one_block_holds_thousands_of_entries():
    [block] = append_and_seal(5000, block_size=10_000)
    assert block.entry_count == 5001
    assert selectors.chain_verify().first_break is None


def test_a_block_is_endorsed_by_exactly_the_csds_involved_and_endorsing_twice_adds_nothing():
    [block] = append_and_seal(4, block_size=100)
    assert set(block.endorsements.values_list("csd", flat=True)) == {
        "NSD",
        "STRATE",
        "CSCS",
        "KACD",
        "MCDR",
        "CDSC",
    }
    assert services.block_endorse(block=block) == []
    assert Endorsement.objects.filter(block=block).count() == 6


@pytest.mark.parametrize(
    ("kind", "csds", "record"),
    [
        ("SETTLE", ["NSD"], {}),
        ("HUB_KEY", ["NSD"], {}),
        ("COMMIT", [], {}),
        ("COMMIT", ["NSD,STRATE"], {}),
        ("COMMIT", ["NSD"], {"quantity": 1.5}),
    ],
)
def test_an_entry_without_a_known_kind_its_csds_or_a_canonical_record_is_refused(kind, csds, record):
    with pytest.raises(EntryInvalid):
        services.entry_append(kind=kind, reference="T-1", csds=csds, record=record)


def test_the_database_refuses_to_change_or_delete_sealed_entries_blocks_and_endorsements():
    [block] = append_and_seal(3, block_size=10)
    entry = Entry.objects.filter(block=block, kind="COMMIT").first()
    attempts = [
        lambda: Entry.objects.filter(id=entry.id).update(reference="T-EDITED"),
        lambda: Entry.objects.filter(id=entry.id).update(block=None),
        lambda: Entry.objects.filter(id=entry.id).delete(),
        lambda: Block.objects.filter(id=block.id).update(merkle_root="0" * 64),
        lambda: Block.objects.filter(id=block.id).delete(),
        lambda: Endorsement.objects.filter(block=block).update(signature="AAAA"),
        lambda: Endorsement.objects.filter(block=block).delete(),
    ]
    for attempt in attempts:
        with pytest.raises(IntegrityError), transaction.atomic():
            attempt()
    assert selectors.chain_verify().first_break is None


def test_an_unsealed_entry_can_only_be_sealed_never_edited_or_deleted(reference):
    entry = services.entry_append(kind="ABORT", reference=reference, csds=["NSD"], record={})
    for attempt in (
        lambda: Entry.objects.filter(id=entry.id).update(record_hash="0" * 64),
        lambda: Entry.objects.filter(id=entry.id).delete(),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            attempt()


def test_the_sealer_takes_the_oldest_entries_first_and_leaves_the_rest_pending():
    services.entries_append(drafts=drafts(10))
    block = services.block_seal(max_entries=4)
    ids = list(Entry.objects.filter(block=block).values_list("id", flat=True))
    assert ids == sorted(ids) and block.entry_count == 4
    assert selectors.pending_entry_count() == 7


def test_the_scheduled_task_looks_for_missing_endorsements_among_recent_blocks_only():
    services.entries_append(drafts=drafts(12))
    services.blocks_seal_pending(max_entries=3)
    assert [b.height for b in selectors.blocks_missing_endorsements()] == [1, 2, 3, 4, 5]
    assert [b.height for b in selectors.blocks_missing_endorsements(recent=2)] == [4, 5]
