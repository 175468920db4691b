"""A bulk file is answered message by message exactly as if its messages had been sent one after another,
in a few transactions, a few queries and one matching task for the whole file."""

import threading

import pytest
from django.db import connections

from hub.messaging.models import InboundMessage, OutboundMessage, ReplayKey
from hub.registry.models import Participant
from hub.settlement import tasks
from hub.settlement.bulk import BULK_NAMESPACE, messages_receive_bulk
from hub.settlement.models import Instruction

from ..settlement.messages import as_mt, as_mx, cancellation, instruction
from .conftest import client_for, post

UNKNOWN_ISIN = "US0378331005"


def mx_file(*messages: bytes) -> bytes:
    parts = b"".join(raw.split(b"?>", 1)[-1] for raw in messages)
    return f'<BlkMsgs xmlns="{BULK_NAMESPACE}">'.encode() + parts + b"</BlkMsgs>"


def send_file(client, *messages: bytes) -> list[dict]:
    response = post(client, mx_file(*messages), path="/api/v1/messages/bulk/")
    assert response.status_code == 200
    return response.json()["results"]


def test_duplicates_inside_a_file_are_replays_of_the_first_as_if_sent_one_after_another(nsd_broker):
    results = send_file(
        nsd_broker,
        as_mx(instruction("DELI", tx="F-1"), bmi="B-1"),
        as_mx(instruction("DELI", tx="F-1"), bmi="B-1"),  # the same message again
        as_mx(instruction("DELI", tx="F-1", amount="7"), bmi="B-2"),  # the accepted reference again
        as_mx(instruction("DELI", tx="F-2", isin=UNKNOWN_ISIN), bmi="B-3"),
        as_mx(instruction("DELI", tx="F-2", isin=UNKNOWN_ISIN), bmi="B-3"),  # a refused one again
        as_mx(instruction("DELI", tx="F-2"), bmi="B-4"),  # corrected: a refusal keeps no reference
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><x/></Document>',
    )
    assert [(r["http_status"], r["outcome"], r["reason_codes"]) for r in results] == [
        (202, "ACCEPTED", []),
        (202, "REPLAY", []),
        (202, "REPLAY", []),
        (422, "REJECTED", ["DSEC"]),
        (422, "REPLAY", ["DSEC"]),
        (202, "ACCEPTED", []),
        (400, "REJECTED", ["TXST"]),
    ]
    assert results[1]["answer"] == results[2]["answer"] == results[0]["answer"]
    assert results[4]["answer"] == results[3]["answer"]
    assert sorted(Instruction.objects.values_list("transaction_id", flat=True)) == ["F-1", "F-2"]
    stored = list(InboundMessage.objects.order_by("pk"))
    assert len(stored) == 7 and b"pacs.008" in bytes(stored[-1].raw)
    assert [m.original_id for m in stored] == [
        None,
        stored[0].pk,
        stored[0].pk,
        None,
        stored[3].pk,
        None,
        None,
    ]
    # the outbox holds each status once, in the order of the file
    assert list(OutboundMessage.objects.order_by("sequence").values_list("transaction_id", "status")) == [
        ("F-1", "ACCEPTED"),
        ("F-2", "REJECTED"),
        ("F-2", "ACCEPTED"),
        ("NONREF", "REJECTED"),
    ]


def test_every_message_of_a_file_sent_again_alone_gets_the_answer_the_file_gave(nsd_broker):
    messages = [
        as_mx(instruction("DELI", tx="A-1"), bmi="AB-1"),
        as_mx(instruction("DELI", tx="A-2", isin=UNKNOWN_ISIN), bmi="AB-2"),
        as_mx(instruction("DELI", tx="A-3", amount="3"), bmi="AB-3"),
    ]
    results = send_file(nsd_broker, *messages)
    for raw, result in zip(messages, results, strict=True):
        again = post(nsd_broker, raw)
        assert again["X-Hub-Replay"] == "true"
        assert (again.status_code, again.content.decode()) == (result["http_status"], result["answer"])


def test_a_cancellation_in_a_file_sees_the_instructions_before_it_and_not_those_after(nsd_broker):
    results = send_file(
        nsd_broker,
        as_mx(cancellation("DELI", tx="LATE")),
        as_mx(instruction("DELI", tx="EARLY"), bmi="E-1"),
        as_mx(cancellation("DELI", tx="EARLY")),
        as_mx(instruction("DELI", tx="LATE"), bmi="L-1"),
        as_mx(instruction("DELI", tx="EARLY"), bmi="E-2"),  # its reference was accepted: a replay
    )
    assert [(r["http_status"], r["outcome"]) for r in results] == [
        (422, "REJECTED"),
        (202, "ACCEPTED"),
        (200, "ACCEPTED"),
        (202, "ACCEPTED"),
        (202, "REPLAY"),
    ]
    assert dict(Instruction.objects.values_list("transaction_id", "status")) == {
        "EARLY": "CANCELLED",
        "LATE": "ACCEPTED",
    }
    assert list(OutboundMessage.objects.order_by("sequence").values_list("transaction_id", "status")) == [
        ("LATE", "REJECTED"),
        ("EARLY", "ACCEPTED"),
        ("EARLY", "CANCELLED"),
        ("LATE", "ACCEPTED"),
    ]


def test_a_file_is_stored_checked_and_written_in_a_few_queries_with_one_matching_task(
    demo, django_assert_max_num_queries, django_capture_on_commit_callbacks, monkeypatch
):
    published = []
    monkeypatch.setattr(tasks.instructions_match, "delay", lambda ids: published.append(ids))
    participant = Participant.objects.select_related("home_csd").get(bic="DEMAZAJJ")
    raw = b"\r\n".join(as_mt(instruction("RECE", tx=f"Q-{i}", amount=str(i + 1))) for i in range(100))
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(25):
        result = messages_receive_bulk(participant=participant, raw=raw, content_type="text/plain")
    assert {answer.outcome for answer in result.answers} == {"ACCEPTED"}
    ids = sorted(Instruction.objects.values_list("pk", flat=True))
    assert len(ids) == 100 and [sorted(batch) for batch in published] == [ids]
    assert ReplayKey.objects.count() == 100 and OutboundMessage.objects.count() == 100


def test_a_file_of_more_elements_than_a_bulk_file_holds_is_refused_whole_before_its_tree_is_built(nsd_broker):
    flood = mx_file(
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:sese.023.001.11">' + b"<a/>" * 1_100_000
    )
    response = post(nsd_broker, flood + b"</Document>", path="/api/v1/messages/bulk/")
    assert response.status_code == 400, response.content[:300]
    assert "elements and attributes, over the limit of 1000000" in response.json()["detail"]
    assert InboundMessage.objects.get().outcome == "REJECTED" and not OutboundMessage.objects.exists()


def test_a_file_over_the_message_layers_bulk_limit_is_refused_whatever_the_request_limit_allows(
    demo, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024  # API_MAX_REQUEST_BYTES raised past it
    padded = mx_file(as_mx(instruction("DELI", tx="PAD-1")), b" " * (32 * 1024 * 1024))
    result = messages_receive_bulk(
        participant=Participant.objects.get(bic="DEMARUMM"), raw=padded, content_type="application/xml"
    )
    assert result.http_status == 400 and "over the limit of 33554432 bytes" in result.error
    assert not Instruction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_files_with_the_same_instructions_create_each_one_once(demo):
    messages = [as_mt(instruction("RECE", tx=f"RC-{i}", amount=str(i + 1))) for i in range(30)]
    files = [b"\r\n".join(messages), b"\r\n".join(reversed(messages)), b"\r\n".join(messages[::2])]
    barrier = threading.Barrier(len(files))
    answers: list[list[dict]] = []

    def send(raw: bytes) -> None:
        client = client_for("DEMAZAJJ")
        barrier.wait()
        response = post(client, raw, mt=True, path="/api/v1/messages/bulk/")
        answers.append(response.json()["results"])
        connections.close_all()

    threads = [threading.Thread(target=send, args=(raw,)) for raw in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(answers) == len(files)
    assert Instruction.objects.count() == 30
    assert InboundMessage.objects.filter(outcome="ACCEPTED").count() == 30
    assert InboundMessage.objects.count() == 30 + 30 + 15  # every copy kept for the audit trail
    by_reference: dict[str, set[str]] = {}
    for results in answers:
        for result in results:
            assert result["http_status"] == 202
            reference = result["answer"].split(":20C::RELA//", 1)[1].split("\r\n", 1)[0]
            by_reference.setdefault(reference, set()).add(result["answer"])
    # every caller got the one original answer of each instruction
    assert len(by_reference) == 30 and all(len(bodies) == 1 for bodies in by_reference.values())
