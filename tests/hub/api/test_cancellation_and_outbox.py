"""Cancellation as T2S does it (one side before matching, both sides after), the ordered outbox, and
recycling of instructions that never match."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from hub.messaging.models import OutboundMessage
from hub.settlement.models import Instruction, Transfer
from hub.settlement.services import instruction_match, instructions_recycle
from iso20022 import models as m
from iso20022 import mx
from iso20022.mt import parse_mt

from ..settlement.messages import as_mt, as_mx, cancellation, instruction
from .conftest import post


def sese027(response) -> m.CancellationStatus:
    if response["Content-Type"].startswith("text/plain"):
        return parse_mt(response.content)
    return mx.parse(response.content).body


def matched_pair(nsd_broker, strate_broker) -> Transfer:
    post(nsd_broker, as_mx(instruction("DELI", tx="C-D")))
    post(strate_broker, as_mt(instruction("RECE", tx="C-R")), mt=True)
    return instruction_match(instruction_id=Instruction.objects.get(transaction_id="C-D").pk)


def test_an_unmatched_instruction_is_cancelled_by_its_sender_alone(nsd_broker):
    post(nsd_broker, as_mx(instruction("DELI", tx="C-1")))
    response = post(nsd_broker, as_mx(cancellation("DELI", tx="C-1")))
    assert response.status_code == 200
    assert sese027(response).processing.code == m.ProcessingStatusCode.CANCELLED
    assert Instruction.objects.get().status == "CANCELLED"
    last = OutboundMessage.objects.order_by("-sequence").first()
    assert last.status == "CANCELLED" and b"CANI" in bytes(last.payload)


def test_a_matched_instruction_is_cancelled_only_when_both_parties_ask(nsd_broker, strate_broker):
    transfer = matched_pair(nsd_broker, strate_broker)
    first = post(nsd_broker, as_mx(cancellation("DELI", tx="C-D")))
    pending = sese027(first)
    assert pending.processing.code == m.ProcessingStatusCode.PENDING_CANCELLATION
    assert [r.code for r in pending.processing.reasons] == ["CONF"]  # awaiting the counterparty
    assert set(Instruction.objects.values_list("status", flat=True)) == {"MATCHED"}
    # the counterparty learns that the other side asked (MT548 :25D::IPRC//CPRC, sese.024 CxlReqd) ...
    told = OutboundMessage.objects.filter(participant__bic="DEMAZAJJ").order_by("-sequence").first()
    assert told.status == "CANCELLATION_REQUESTED" and told.transaction_id == "C-R"
    assert parse_mt(bytes(told.payload)).processing.code == m.ProcessingStatusCode.CANCELLATION_REQUESTED
    # ... once: the same request again tells it nothing new
    post(nsd_broker, as_mx(cancellation("DELI", tx="C-D"), bmi="BMI-C-D-AGAIN"))
    assert OutboundMessage.objects.filter(status="CANCELLATION_REQUESTED").count() == 1
    second = post(strate_broker, as_mt(cancellation("RECE", tx="C-R")), mt=True)
    assert sese027(second).processing.code == m.ProcessingStatusCode.CANCELLED
    transfer.refresh_from_db()
    assert transfer.status == "CANCELLED"
    assert set(Instruction.objects.values_list("status", flat=True)) == {"CANCELLED"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"side": m.Side.RECEIVE}, "REFE"),
        ({"quantity": m.Quantity(amount=Decimal(999))}, "REFE"),
        ({"safekeeping_account": "DEMARUMM-CLIENT"}, "SAFE"),
    ],
    ids=["side", "quantity", "account"],
)
def test_a_cancellation_whose_details_are_not_its_instructions_is_refused_and_cancels_nothing(
    nsd_broker, change, reason
):
    post(nsd_broker, as_mx(instruction("DELI", tx="C-X")))
    wrong = dataclasses.replace(cancellation("DELI", tx="C-X"), **change)
    response = post(nsd_broker, as_mx(wrong))
    assert response.status_code == 422
    answer = sese027(response)
    assert answer.processing.code == m.ProcessingStatusCode.REJECTED
    assert [r.code for r in answer.processing.reasons] == [reason]
    assert Instruction.objects.get().status in ("ACCEPTED", "UNMATCHED")


def test_cancellation_is_denied_once_settlement_has_started(nsd_broker, strate_broker):
    transfer = matched_pair(nsd_broker, strate_broker)
    Transfer.objects.filter(pk=transfer.pk).update(status="PREPARING")
    response = post(nsd_broker, as_mx(cancellation("DELI", tx="C-D")))
    status = sese027(response)
    assert (
        status.processing.code == m.ProcessingStatusCode.DENIED
        and status.processing.reasons[0].code == "DPRG"
    )


def test_cancelling_an_unknown_instruction_is_rejected_with_refe(nsd_broker):
    response = post(nsd_broker, as_mx(cancellation("DELI", tx="NEVER-SENT")))
    assert response.status_code == 422
    assert sese027(response).processing.reasons[0].code == "REFE"


def test_the_outbox_is_ordered_paged_by_cursor_and_in_the_participants_format(nsd_broker, strate_broker):
    matched_pair(nsd_broker, strate_broker)
    page = nsd_broker.get("/api/v1/messages/outbox/?after=0&limit=1").json()
    assert [m["sequence"] for m in page["messages"]] == [1] and page["next_cursor"] == 1
    rest = nsd_broker.get(f"/api/v1/messages/outbox/?after={page['next_cursor']}").json()
    assert [m["sequence"] for m in rest["messages"]] == [2]
    statuses = [m["status"] for m in page["messages"] + rest["messages"]]
    assert statuses == ["ACCEPTED", "MATCHED"]  # NSD's broker gets MX, Strate's broker MT (their profiles)
    assert rest["messages"][0]["message_type"] == "sese.024.001.12"
    strate = strate_broker.get("/api/v1/messages/outbox/").json()["messages"]
    assert {m["message_type"] for m in strate} == {"MT548"}
    matched = parse_mt(strate[-1]["payload"].encode())
    assert matched.matching.code == m.MatchingStatusCode.MATCHED
    assert nsd_broker.get("/api/v1/messages/outbox/?after=x").status_code == 400
    # at the end: an empty page that keeps the cursor
    assert nsd_broker.get("/api/v1/messages/outbox/?after=2").json() == {"messages": [], "next_cursor": 2}
    # past the end: a cursor this outbox never gave is refused, naming the last sequence issued
    past = nsd_broker.get("/api/v1/messages/outbox/?after=99")
    assert past.status_code == 400 and "past the last sequence issued to you (2)" in past.json()["detail"]


def test_before_its_first_message_a_participants_outbox_takes_only_cursor_0(nsd_broker):
    assert nsd_broker.get("/api/v1/messages/outbox/").json() == {"messages": [], "next_cursor": 0}
    past = nsd_broker.get("/api/v1/messages/outbox/?after=1")
    assert past.status_code == 400 and "past the last sequence issued to you (0)" in past.json()["detail"]


def test_an_instruction_unmatched_for_twenty_business_days_is_cancelled_by_the_system(nsd_broker):
    with time_machine.travel(dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC), tick=False):  # its trade date
        post(nsd_broker, as_mx(instruction("DELI", tx="LONELY")))
        lonely = Instruction.objects.get()
        instruction_match(instruction_id=lonely.pk)
        lonely.refresh_from_db()
        assert lonely.status == "UNMATCHED"
        # 20 business days of NSD's calendar after the intended settlement date of 26 November 2026
        assert lonely.match_deadline == dt.date(2026, 12, 24)
        assert instructions_recycle(now=timezone.now())["cancelled"] == 0
    report = instructions_recycle(now=dt.datetime(2026, 12, 25, 12, tzinfo=dt.UTC))
    assert report["cancelled"] == 1
    lonely.refresh_from_db()
    assert lonely.status == "CANCELLED" and lonely.events.last().reason_code == "CANS"


def test_an_instruction_sent_after_its_settlement_date_is_recycled_from_the_day_it_arrived(nsd_broker):
    with time_machine.travel(dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC), tick=False):  # a Monday
        post(nsd_broker, as_mx(instruction("DELI", tx="LATE")))
    # 20 business days of NSD's calendar after 7 December 2026: 17 from the 8th to the 30th, none in the
    # New Year holidays (31 December, a day off by the 2026 transfer, to 8 January), then 11 to 13 January
    assert Instruction.objects.get().match_deadline == dt.date(2027, 1, 13)
