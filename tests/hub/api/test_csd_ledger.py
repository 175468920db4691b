"""A CSD reads, with a CSD's key, the ledger entries that involve it, their inclusion proofs and every block's
header, and checks them itself; it sees no other CSD's entries, and the two kinds of key are never confused."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from hub.ledger import selectors, services, verifier
from hub.ledger.models import Entry
from hub.registry.models import CSD, CSDToken
from hub.registry.services import csd_token_issue, csd_token_revoke, participant_token_issue

from ..registry.factories import participant, two_linked_csds

pytestmark = pytest.mark.django_db

ENTRIES = "/api/v1/ledger/entries/"
BLOCKS = "/api/v1/ledger/blocks/"


def proof_path(entry_id: int) -> str:
    return f"{ENTRIES}{entry_id}/proof/"


def csd_client(code: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {csd_token_issue(csd=CSD.objects.get(code=code))}")
    return client


def append(reference: str, *csds: str) -> int:
    return services.entry_append(
        kind="COMMIT", reference=reference, csds=list(csds), record={"r": reference}
    ).id


def seal() -> None:
    for block in services.blocks_seal_pending(max_entries=3):
        services.block_endorse(block=block)


@pytest.fixture
def ledger():
    """NSD and STRATE in the registry; sealed entries of NSD and STRATE together, of STRATE alone with
    KACD, of NSD with KACD, and of a CSD whose code starts like NSD's; then one unsealed entry of NSD's."""
    two_linked_csds()
    ids = {
        "both": append("transfer:1", "NSD", "STRATE"),
        "strate": append("transfer:2", "KACD", "STRATE"),
        "nsd": append("transfer:3", "KACD", "NSD"),
        "lookalike": append("transfer:4", "NSDX", "STRATE"),
    }
    seal()
    ids["unsealed"] = append("transfer:5", "NSD", "STRATE")
    return ids


@pytest.fixture
def nsd(ledger) -> APIClient:
    return csd_client("NSD")


@pytest.fixture
def strate(ledger) -> APIClient:
    return csd_client("STRATE")


def test_a_csd_lists_the_entries_that_involve_it_and_no_other_oldest_first(ledger, nsd, strate):
    rows = nsd.get(ENTRIES).json()
    assert [row["id"] for row in rows] == [ledger["both"], ledger["nsd"], ledger["unsealed"]]
    first = Entry.objects.select_related("block").get(pk=ledger["both"])
    assert rows[0] == {
        "id": first.id,
        "kind": "COMMIT",
        "reference": "transfer:1",
        "csds": ["NSD", "STRATE"],
        "record_hash": first.record_hash,
        "appended_at": verifier.time_text(first.appended_at),
        "block_height": first.block.height,
    }
    assert rows[-1]["block_height"] is None  # not sealed yet
    theirs = [row["id"] for row in strate.get(ENTRIES).json()]
    assert theirs == [ledger["both"], ledger["strate"], ledger["lookalike"], ledger["unsealed"]]


def test_a_csds_entries_come_a_page_at_a_time(ledger, nsd):
    first = nsd.get(f"{ENTRIES}?limit=2").json()
    assert [row["id"] for row in first] == [ledger["both"], ledger["nsd"]]
    rest = nsd.get(f"{ENTRIES}?after={first[-1]['id']}&limit=2").json()
    assert [row["id"] for row in rest] == [ledger["unsealed"]]
    assert nsd.get(f"{ENTRIES}?after={rest[-1]['id']}").json() == []
    assert nsd.get(f"{ENTRIES}?after={10**30}").json() == []


def test_the_proof_a_csd_gets_verifies_with_the_standalone_verifier(ledger, nsd, tmp_path, capsys):
    response = nsd.get(proof_path(ledger["both"]))
    assert response.status_code == 200
    proof = response.json()
    assert proof == json.loads(json.dumps(selectors.entry_proof(entry_id=ledger["both"])))
    keys = {"hub": selectors.hub_public_keys(), "csds": selectors.csd_public_keys(proof["block"]["csds"])}
    assert verifier.verify_proof(proof, keys).holds
    (tmp_path / "proof.json").write_text(response.content.decode())
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    assert verifier.main([str(tmp_path / "proof.json"), "--keys", str(tmp_path / "keys.json")]) == 0
    assert f"OK: entry {ledger['both']} (COMMIT transfer:1)" in capsys.readouterr().out


def test_another_csds_entry_is_not_found_as_if_it_did_not_exist(ledger, nsd, strate):
    for entry_id in (
        ledger["strate"],
        ledger["lookalike"],
        Entry.objects.get(kind="HUB_KEY").id,
        10**6,
        10**30,
    ):
        response = nsd.get(proof_path(entry_id))
        assert response.status_code == 404, entry_id
        assert response.json() == {"detail": f"no ledger entry {entry_id} involves NSD"}
    assert strate.get(proof_path(ledger["strate"])).status_code == 200


def test_the_proof_of_an_entry_not_sealed_yet_is_a_409_that_says_so(ledger, nsd):
    response = nsd.get(proof_path(ledger["unsealed"]))
    assert response.status_code == 409
    assert "not sealed in a block yet" in response.json()["detail"]
    seal()
    assert nsd.get(proof_path(ledger["unsealed"])).status_code == 200


def test_a_csd_reads_every_blocks_header_and_checks_the_links_and_signatures_itself(ledger, nsd):
    blocks = nsd.get(BLOCKS).json()
    assert [block["height"] for block in blocks] == [1, 2]
    hub_keys = selectors.hub_public_keys()
    csd_keys = selectors.csd_public_keys(["KACD", "NSD", "NSDX", "STRATE"])
    previous = verifier.GENESIS_PREVIOUS_HASH
    for block in blocks:
        header = {name: block[name] for name in verifier.HEADER_FIELDS}
        assert block["previous_hash"] == previous and verifier.block_hash(header) == block["block_hash"]
        signed = verifier.header_bytes(header)
        assert verifier.signature_holds(hub_keys[block["hub_key_id"]], signed, block["hub_signature"])
        assert sorted(e["csd"] for e in block["endorsements"]) == block["csds"]
        for endorsement in block["endorsements"]:
            public_key = csd_keys[endorsement["csd"]][endorsement["key_id"]]
            assert verifier.signature_holds(public_key, signed, endorsement["signature"])
        assert "entries" not in block
        previous = block["block_hash"]
    assert [b["height"] for b in nsd.get(f"{BLOCKS}?limit=1").json()] == [1]
    assert [b["height"] for b in nsd.get(f"{BLOCKS}?after=1&limit=1").json()] == [2]
    assert nsd.get(f"{BLOCKS}?after=2").json() == []


@pytest.mark.parametrize("path", [ENTRIES, BLOCKS])
def test_bad_list_parameters_get_a_400_that_names_them(ledger, nsd, path):
    for query in ("after=-1", "after=x", "after=%00", "limit=0", "limit=501", "limit=x"):
        response = nsd.get(f"{path}?{query}")
        assert response.status_code == 400, query
        assert query.split("=")[0] in response.json(), query


@pytest.mark.parametrize("path", [ENTRIES, BLOCKS, proof_path(1)])
def test_unauthenticated_calls_are_refused(ledger, client, path):
    response = client.get(path)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    client.defaults["HTTP_AUTHORIZATION"] = "Token csd_not-a-real-key"
    assert client.get(path).json() == {"detail": "unknown or revoked token"}


def test_a_participants_token_is_refused_on_the_csd_api_and_a_csds_on_the_participant_api(
    ledger, nsd, client
):
    broker = participant(CSD.objects.get(code="NSD"))
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {participant_token_issue(participant=broker)}"
    assert client.get("/api/v1/accounts/").status_code == 200
    for path in (ENTRIES, BLOCKS, proof_path(ledger["both"])):
        response = client.get(path)
        assert response.status_code == 401, path
        assert "a participant's token" in response.json()["detail"]
    for path in ("/api/v1/accounts/", "/api/v1/instructions/", "/api/v1/messages/outbox/"):
        response = nsd.get(path)
        assert response.status_code == 401, path
        assert "a CSD's token" in response.json()["detail"]
    refused = nsd.post("/api/v1/messages/", b"<x/>", content_type="application/xml")
    assert refused.status_code == 401


def test_a_revoked_csd_token_is_refused_at_once(ledger, nsd):
    assert nsd.get(ENTRIES).status_code == 200
    assert csd_token_revoke(csd=CSD.objects.get(code="NSD")) == [CSDToken.objects.get().key_prefix]
    response = nsd.get(ENTRIES)
    assert response.status_code == 401 and response.json() == {"detail": "unknown or revoked token"}


def test_a_csd_has_a_read_budget_of_its_own(limits, ledger, nsd, strate):
    for _ in range(limits.API_RATE_LIMIT_READS):
        assert nsd.get(BLOCKS).status_code == 200
    refused = nsd.get(proof_path(ledger["both"]))
    assert refused.status_code == 429 and refused["Retry-After"] == "45"
    assert refused.json()["detail"].startswith("NSD is over its read budget of 3 requests per 60 seconds.")
    assert strate.get(BLOCKS).status_code == 200


def test_the_openapi_schema_says_the_ledger_api_takes_a_csds_token_and_declares_the_409(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path in (ENTRIES, "/api/v1/ledger/entries/{id}/proof/", BLOCKS):
        assert schema["paths"][path]["get"]["security"] == [{"csdToken": []}], path
    assert schema["paths"]["/api/v1/accounts/"]["get"]["security"] == [{"participantToken": []}]
    proof = schema["paths"]["/api/v1/ledger/entries/{id}/proof/"]["get"]["responses"]
    assert "not sealed" in proof["409"]["description"]
