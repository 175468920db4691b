"""Every caller authenticates; a participant sees and instructs on its own accounts and messages only."""

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from hub.messaging.models import InboundMessage
from hub.registry.models import Participant, ParticipantToken
from hub.registry.selectors import participant_for_token
from hub.registry.services import participant_token_revoke
from hub.settlement.models import Instruction

from ...conftest import REPO_ROOT
from ..settlement.messages import STRATE_ACCOUNT, as_mt, as_mx, instruction
from .conftest import post


def test_unauthenticated_calls_are_refused(client, demo):
    for path in ("/api/v1/messages/outbox/", "/api/v1/instructions/", "/api/v1/accounts/"):
        response = client.get(path)
        assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert client.post("/api/v1/messages/", b"<x/>", content_type="application/xml").status_code == 401


def test_an_unknown_or_revoked_token_is_refused(nsd_broker, client):
    client.defaults["HTTP_AUTHORIZATION"] = "Token hub_not-a-real-key"
    assert client.get("/api/v1/accounts/").status_code == 401
    assert nsd_broker.get("/api/v1/accounts/").status_code == 200
    participant_token_revoke(token=ParticipantToken.objects.get(participant__bic="DEMARUMM"))
    assert nsd_broker.get("/api/v1/accounts/").status_code == 401


def test_a_participant_cannot_instruct_on_another_participants_account(nsd_broker):
    response = post(nsd_broker, as_mx(instruction("DELI", tx="THEIRS", safekeeping_account=STRATE_ACCOUNT)))
    assert response.status_code == 422 and response["X-Hub-Reason-Codes"] == "SAFE"
    assert not Instruction.objects.exists()


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ((b"{1:F01DEMAZAJJAXXX", b"{1:F01DEMBZAJJAXXX"), "sender DEMBZAJJXXX is not the caller DEMAZAJJ"),
        (
            (b"{2:I540CSDHZAJJAXXXN}", b"{2:I540DEMBZAJJXXXXN}"),
            "receiver DEMBZAJJXXX is not the hub CSDHZAJJ",
        ),
        (
            (b"{2:I540CSDHZAJJAXXXN}", b"{2:O5401200261124DEMAZAJJAXXX00000000002611241200N}"),
            "receiver DEMAZAJJXXX is not the hub CSDHZAJJ",
        ),
    ],
    ids=["block-1-another-institution", "block-2-not-the-hub", "output-message-to-itself"],
)
def test_an_mt_message_must_come_from_the_caller_and_go_to_the_hub(strate_broker, change, says):
    raw = as_mt(instruction("RECE", tx="SPOOF-1"))
    assert change[0] in raw
    response = post(strate_broker, raw.replace(*change), mt=True)
    assert response.status_code == 400 and response["X-Hub-Reason-Codes"] == "ICUS"
    assert says in InboundMessage.objects.get().detail
    assert not Instruction.objects.exists()


def test_an_mx_header_must_name_the_caller_as_sender_and_the_hub_as_receiver(nsd_broker):
    raw = as_mx(instruction("DELI", tx="TO-1"))
    to_another = raw.replace(
        b"<To><FIId><FinInstnId><BICFI>CSDHZAJJ<", b"<To><FIId><FinInstnId><BICFI>DEMAZAJJ<"
    )
    assert to_another != raw
    response = post(nsd_broker, to_another)
    assert response.status_code == 400 and response["X-Hub-Reason-Codes"] == "ICUS"
    assert b"receiver DEMAZAJJ is not the hub CSDHZAJJ" in response.content
    from_another = raw.replace(
        b"<Fr><FIId><FinInstnId><BICFI>DEMARUMM<", b"<Fr><FIId><FinInstnId><BICFI>DEMBRUMM<"
    )
    response = post(nsd_broker, from_another)
    assert response.status_code == 400 and response["X-Hub-Reason-Codes"] == "ICUS"
    assert not Instruction.objects.exists()
    # the hub's BIC with its primary office's branch is the hub
    with_branch = raw.replace(b"<BICFI>CSDHZAJJ<", b"<BICFI>CSDHZAJJXXX<")
    assert post(nsd_broker, with_branch).status_code == 202


def test_a_participant_reads_only_its_own_instructions_accounts_and_outbox(nsd_broker, strate_broker):
    post(nsd_broker, as_mx(instruction("DELI", tx="MINE")))
    own = nsd_broker.get("/api/v1/instructions/").json()
    assert [row["transaction_id"] for row in own] == ["MINE"]
    theirs = strate_broker.get("/api/v1/instructions/").json()
    assert theirs == []
    assert strate_broker.get(f"/api/v1/instructions/{own[0]['id']}/").status_code == 404
    assert nsd_broker.get(f"/api/v1/instructions/{own[0]['id']}/").status_code == 200
    accounts = nsd_broker.get("/api/v1/accounts/").json()
    assert {a["number"] for a in accounts} == {"DEMARUMM-OWN", "DEMARUMM-CLIENT"}
    assert all(h["quantity"] for a in accounts for h in a["holdings"])
    assert nsd_broker.get("/api/v1/messages/outbox/").json()["messages"]
    assert strate_broker.get("/api/v1/messages/outbox/").json()["messages"] == []


def test_a_participants_instructions_are_listed_oldest_first_a_page_at_a_time(nsd_broker):
    for n in range(3):
        post(nsd_broker, as_mx(instruction("DELI", tx=f"PAGE-{n}")))
    first = nsd_broker.get("/api/v1/instructions/?limit=2").json()
    assert [row["transaction_id"] for row in first] == ["PAGE-0", "PAGE-1"]
    rest = nsd_broker.get(f"/api/v1/instructions/?after={first[-1]['id']}").json()
    assert [row["transaction_id"] for row in rest] == ["PAGE-2"]
    assert len(nsd_broker.get("/api/v1/instructions/?status=accepted").json()) == 3


def test_a_participants_accounts_are_listed_by_number_a_page_at_a_time(nsd_broker):
    first = nsd_broker.get("/api/v1/accounts/?limit=1").json()
    assert [a["number"] for a in first] == ["DEMARUMM-CLIENT"]
    rest = nsd_broker.get(f"/api/v1/accounts/?after={first[-1]['number']}").json()
    assert [a["number"] for a in rest] == ["DEMARUMM-OWN"]
    for query in ("limit=0", "limit=501", "limit=x", "after=%00", f"after={'X' * 36}"):
        response = nsd_broker.get(f"/api/v1/accounts/?{query}")
        assert response.status_code == 400 and query.split("=")[0] in response.json(), query


def test_bad_list_parameters_get_a_400_that_names_them(nsd_broker):
    for query in ("status=%00", "status=NOPE", "after=-1", "after=x", "limit=0", "limit=501"):
        response = nsd_broker.get(f"/api/v1/instructions/?{query}")
        assert response.status_code == 400, query
        assert query.split("=")[0] in response.json(), query


def test_issue_token_prints_a_working_token(demo, capsys, client):
    call_command("issue_token", "DEMBZAJJ", "--label", "back office")
    key = capsys.readouterr().out.strip()
    assert participant_for_token(key) == Participant.objects.get(bic="DEMBZAJJ")
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    assert client.get("/api/v1/accounts/").status_code == 200
    assert not ParticipantToken.objects.filter(key_hash=key).exists()  # only the hash is stored


def test_the_hub_root_leads_to_the_api_documentation(client, demo):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/api/docs/"
    assert client.get("/api/docs/").status_code == 200


def test_the_openapi_schema_documents_the_message_api(client, demo):
    schema = client.get("/api/schema/").content.decode()
    for path in (
        "/api/v1/messages/",
        "/api/v1/messages/bulk/",
        "/api/v1/messages/outbox/",
        "participantToken",
    ):
        assert path in schema


def readme_statuses() -> dict[str, set[str]]:
    """The README's table of what each call of the participant API and the CSD ledger API answers: operation
    id -> statuses."""
    text = (REPO_ROOT / "README.md").read_text()
    table = text[text.index("| operation | call | HTTP statuses |") :].split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    return {
        operation.strip(" `"): {code.strip() for code in codes.split(",")} for operation, _call, codes in rows
    }


def test_the_openapi_schema_declares_every_status_the_readme_lists_and_no_other(demo):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    declared = {
        operation["operationId"]: set(operation["responses"])
        for methods in schema["paths"].values()
        for operation in methods.values()
    }
    documented = readme_statuses()
    assert {operation: declared[operation] for operation in documented} == documented
    prefixes = (
        "/api/v1/messages/",
        "/api/v1/instructions/",
        "/api/v1/accounts/",
        "/api/v1/ledger/",
        "/health/",
    )
    participant_and_csd_api = {
        operation
        for path, methods in schema["paths"].items()
        if path.startswith(prefixes)
        for operation in (methods[method]["operationId"] for method in methods)
    }
    assert participant_and_csd_api == set(documented)


def test_the_openapi_schema_declares_the_answer_headers_of_a_message(demo):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    responses = schema["paths"]["/api/v1/messages/"]["post"]["responses"]
    for status in ("200", "202", "400", "422"):
        assert {"X-Hub-Outcome", "X-Hub-Reason-Codes", "X-Hub-Message-Id", "X-Hub-Replay"} <= set(
            responses[status]["headers"]
        ), status
    assert "sese.027" in responses["422"]["description"]
