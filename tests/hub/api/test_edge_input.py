"""Input at the edges of what the message API takes: each gets a precise answer with an ISO reason code, is
kept for the audit trail, and never breaks the messages that came with it."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from hub.messaging.models import InboundMessage, OutboundMessage
from hub.registry.models import Participant
from hub.settlement.models import Instruction
from iso20022 import models as m
from iso20022 import mx
from iso20022.mt import parse_mt

from ..settlement.messages import NSD_BROKER, STRATE_BROKER, as_mt, as_mx, instruction
from .conftest import post

BULK = "/api/v1/messages/bulk/"


def codes(response) -> list[str]:
    return response["X-Hub-Reason-Codes"].split(",")


def mt_with_quantity(tx: str, quantity: str) -> bytes:
    raw = as_mt(instruction("RECE", tx=tx))
    assert b":36B::SETT//UNIT/100," in raw
    return raw.replace(b":36B::SETT//UNIT/100,", f":36B::SETT//UNIT/{quantity}".encode())


def test_an_mt_quantity_with_more_decimals_than_the_usage_guideline_allows_is_refused_with_dqua(
    strate_broker,
):
    for n, quantity in enumerate(("1,0000004", "0,0000001")):
        response = post(strate_broker, mt_with_quantity(f"DEC-{n}", quantity), mt=True)
        assert response.status_code == 400 and codes(response) == ["DQUA"], response.content
    assert not Instruction.objects.exists()
    # five decimals, as MX allows, and trailing zeros beyond them, are taken
    assert post(strate_broker, mt_with_quantity("DEC-OK", "100,000000"), mt=True).status_code == 202


def test_a_settlement_date_more_than_a_year_ahead_is_refused_with_ddat_in_either_standard(
    nsd_broker, strate_broker
):
    ahead = timezone.now().date() + dt.timedelta(days=400)
    for when in (ahead, dt.date(9999, 12, 31)):
        body = instruction("DELI", tx=f"FAR-{when.year}", trade_date=when, intended_settlement_date=when)
        response = post(nsd_broker, as_mx(body))
        assert response.status_code == 422 and codes(response) == ["DDAT"], response.content
        other = instruction("RECE", tx=f"FAR{when.year}", trade_date=when, intended_settlement_date=when)
        assert codes(post(strate_broker, as_mt(other), mt=True)) == ["DDAT"]
    assert not Instruction.objects.exists()
    assert set(InboundMessage.objects.values_list("outcome", flat=True)) == {"REJECTED"}


def test_an_mx_instruction_that_mt_cannot_carry_is_refused_when_its_sender_takes_mt(nsd_broker):
    Participant.objects.filter(bic=NSD_BROKER).update(outbound_format="MT")
    long_reference = "ABCDEFGHIJ0123456789"  # 20 characters: MX takes 35, MT 16
    response = post(nsd_broker, as_mx(instruction("DELI", tx=long_reference)))
    assert response.status_code == 422 and codes(response) == ["REFE"], response.content
    assert mx.parse(response.content).body.transaction_id == long_reference  # the answer is MX, as sent
    queued = OutboundMessage.objects.get(status="REJECTED")
    assert queued.message_type == "MT548" and parse_mt(bytes(queued.payload)).transaction_id == "NONREF"
    # a refusal for another reason is written in MT the same way
    unknown = post(nsd_broker, as_mx(instruction("DELI", tx=long_reference + "X", isin="US0378331005")))
    assert unknown.status_code == 422 and codes(unknown) == ["DSEC"]
    huge = instruction("DELI", tx="HUGE-1", amount="999999999999999999")
    assert codes(post(nsd_broker, as_mx(huge))) == ["DQUA"]
    assert not Instruction.objects.exists()
    # what MT carries is accepted, and its statuses go out in MT
    assert post(nsd_broker, as_mx(instruction("DELI", tx="SHORT-1"))).status_code == 202
    accepted = OutboundMessage.objects.get(status="ACCEPTED")
    assert parse_mt(bytes(accepted.payload)).transaction_id == "SHORT-1"


def test_a_nul_in_an_mt_sequence_name_is_refused_and_kept(strate_broker):
    raw = as_mt(instruction("RECE", tx="NUL-1")).replace(b":16R:TRADDET", b":16R:TRAD\x00DET", 1)
    response = post(strate_broker, raw, mt=True)
    assert response.status_code == 400 and set(codes(response)) == {"OTHR"}
    stored = InboundMessage.objects.get()
    assert stored.outcome == "REJECTED" and bytes(stored.raw) == raw
    assert "\\x00" in stored.detail


def test_a_bad_message_in_a_bulk_file_is_answered_alone_and_the_others_go_through(strate_broker):
    good = [as_mt(instruction("RECE", tx=f"BLK-{n}")) for n in (1, 3)]
    bulk = b"\r\n$".join([good[0], mt_with_quantity("BLK-2", "0,0000001"), good[1]])
    response = post(strate_broker, bulk, mt=True, path=BULK)
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["http_status"] for r in results] == [202, 400, 202]
    assert results[1]["reason_codes"] == ["DQUA"]
    assert sorted(Instruction.objects.values_list("transaction_id", flat=True)) == ["BLK-1", "BLK-3"]
    assert Instruction.objects.get(transaction_id="BLK-1").quantity == Decimal(100)


def test_the_counterpartys_bic_with_its_branch_is_accepted(nsd_broker, strate_broker):
    body = instruction(
        "DELI", tx="BR-1", counterparty=m.Counterparty(bic=f"{STRATE_BROKER}XXX", csd_bic="STRAZAJJ")
    )
    assert post(nsd_broker, as_mx(body)).status_code == 202
    assert Instruction.objects.get().counterparty_bic == STRATE_BROKER


def test_a_body_over_the_size_limit_gets_a_413_naming_the_limit(nsd_broker, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048  # API_MAX_REQUEST_BYTES
    big = as_mx(instruction("DELI", tx="BIG-1")).replace(b"</Document>", b" " * 4096 + b"</Document>")
    for path in ("/api/v1/messages/", BULK):
        response = post(nsd_broker, big, path=path)
        assert response.status_code == 413 and "2048 bytes" in response.json()["detail"]
    assert not InboundMessage.objects.exists()


def test_a_message_over_its_parsers_limit_is_refused_with_413_unread_and_unkept(
    nsd_broker, strate_broker, caplog
):
    mx_body = as_mx(instruction("DELI", tx="BIG-MX")).replace(
        b"</Envlp>", b" " * 5 * 1024 * 1024 + b"</Envlp>"
    )
    response = post(nsd_broker, mx_body)
    assert response.status_code == 413
    limit = "over the limit of 5242880 bytes of one message"
    assert response.json()["detail"] == f"the body is {len(mx_body)} bytes, {limit}"
    mt_body = as_mt(instruction("RECE", tx="BIG-MT")) + b"\r\n" * 1_000_000
    response = post(strate_broker, mt_body, mt=True)
    assert response.status_code == 413 and "over the limit of 2000000 bytes" in response.json()["detail"]
    assert not InboundMessage.objects.exists() and not OutboundMessage.objects.exists()
    assert f"refused unread: {len(mx_body)} bytes (application/xml) from {NSD_BROKER}" in caplog.text


def test_a_bulk_file_over_the_message_layers_limit_is_refused_with_413_unread(nsd_broker, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024  # API_MAX_REQUEST_BYTES raised past it
    padded = as_mt(instruction("DELI", tx="PAD-1")) + b"\r\n" * (16 * 1024 * 1024)
    response = post(nsd_broker, padded, path=BULK, mt=True)
    assert response.status_code == 413
    assert "over the limit of 33554432 bytes of a bulk file" in response.json()["detail"]
    assert not InboundMessage.objects.exists()
