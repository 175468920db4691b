"""A replay returns the original answer and creates nothing; concurrent duplicates create exactly one."""

import threading

import pytest
from django.db import connections

from hub.messaging.models import InboundMessage
from hub.settlement.models import Instruction

from ..settlement.messages import as_mt, as_mx, instruction
from .conftest import client_for, post


def test_the_same_message_twice_gets_the_original_answer_and_creates_one_instruction(nsd_broker):
    raw = as_mx(instruction("DELI", tx="REPLAY-1"))
    first = post(nsd_broker, raw)
    second = post(nsd_broker, raw)
    assert first.status_code == second.status_code == 202
    assert second.content == first.content and second["X-Hub-Replay"] == "true"
    assert Instruction.objects.count() == 1
    replay = InboundMessage.objects.get(outcome="REPLAY")
    assert replay.original.outcome == "ACCEPTED" and bytes(replay.raw) == raw


def test_a_new_business_message_id_with_an_accepted_transaction_id_is_a_replay(nsd_broker):
    post(nsd_broker, as_mx(instruction("DELI", tx="REPLAY-2"), bmi="FIRST"))
    again = post(nsd_broker, as_mx(instruction("DELI", tx="REPLAY-2"), bmi="SECOND"))
    assert again["X-Hub-Replay"] == "true" and Instruction.objects.count() == 1


def test_a_rejected_message_replayed_is_rejected_the_same_way_but_a_corrected_one_is_accepted(nsd_broker):
    bad = as_mx(instruction("DELI", tx="FIX-1", isin="US0378331005"), bmi="B1")
    assert post(nsd_broker, bad).status_code == 422
    replay = post(nsd_broker, bad)
    assert replay.status_code == 422 and replay["X-Hub-Replay"] == "true"
    corrected = post(nsd_broker, as_mx(instruction("DELI", tx="FIX-1"), bmi="B2"))
    assert corrected.status_code == 202 and Instruction.objects.count() == 1


def test_an_mt_replay_is_recognised_by_its_sender_reference(strate_broker):
    raw = as_mt(instruction("RECE", tx="MT-REPLAY"))
    assert post(strate_broker, raw, mt=True).status_code == 202
    assert post(strate_broker, raw, mt=True)["X-Hub-Replay"] == "true"
    assert Instruction.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_exactly_one_instruction(demo):
    raw = as_mx(instruction("DELI", tx="RACE-1"))
    barrier = threading.Barrier(8)
    answers = []

    def send() -> None:
        client = client_for("DEMARUMM")
        barrier.wait()
        response = post(client, raw)
        answers.append((response.status_code, response.content))
        connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 8
    assert {status for status, _body in answers} == {202}
    assert len({body for _status, body in answers}) == 1  # every caller got the one original answer
    assert Instruction.objects.filter(transaction_id="RACE-1").count() == 1
    assert InboundMessage.objects.count() == 8  # every copy is kept for the audit trail
    assert InboundMessage.objects.filter(outcome="ACCEPTED").count() == 1
