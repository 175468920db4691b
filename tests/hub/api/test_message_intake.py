"""Participants send instructions through POST /api/v1/messages/ and get a status message back."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from lxml import etree
from python_iso20022.sese.sese_023_001_11.models import Sese02300111
from xsdata.formats.dataclass.parsers import DictDecoder

from hub.messaging.models import InboundMessage, OutboundMessage, WebhookDelivery
from hub.registry.models import Participant
from hub.settlement.models import Instruction, Transfer
from hub.settlement.services import instruction_match
from iso20022 import models as m
from iso20022 import mx
from iso20022.mt import parse_mt

from ...conftest import broker_unreachable
from ..settlement.messages import (
    NSD_ACCOUNT,
    NSD_BROKER,
    NSD_SHARES,
    STRATE_ACCOUNT,
    STRATE_BROKER,
    as_mt,
    as_mx,
    instruction,
)
from .conftest import post

pytestmark = pytest.mark.filterwarnings("ignore:Setting `pretty_print` is deprecated:DeprecationWarning")


def status_of(response) -> m.StatusAdvice:
    if response["Content-Type"].startswith("text/plain"):
        return parse_mt(response.content)
    return mx.parse(response.content).body


def test_an_mx_instruction_is_accepted_with_a_sese024_that_validates_against_the_official_schema(
    nsd_broker, reference_dir
):
    response = post(nsd_broker, as_mx(instruction("DELI", tx="T-ACC")))
    assert response.status_code == 202, response.content
    advice = status_of(response)
    assert advice.processing.code == m.ProcessingStatusCode.ACCEPTED and advice.transaction_id == "T-ACC"
    document = etree.fromstring(response.content)[1]
    schema = etree.XMLSchema(etree.parse(str(reference_dir / "xsd" / "sese.024.001.12.xsd")))
    assert schema.validate(document), schema.error_log
    stored = Instruction.objects.get()
    assert (stored.status, stored.account.number, stored.quantity) == ("ACCEPTED", NSD_ACCOUNT, Decimal(100))
    assert bytes(InboundMessage.objects.get().raw) == as_mx(instruction("DELI", tx="T-ACC"))


def test_the_accepted_status_in_the_outbox_is_the_answer_itself_when_the_participant_takes_that_format(
    nsd_broker, strate_broker
):
    answer = post(nsd_broker, as_mx(instruction("DELI", tx="D-SAME")))
    queued = OutboundMessage.objects.get(transaction_id="D-SAME", status="ACCEPTED")
    # one status, one message: the pull queue gives the bytes (business message id included) of the answer
    assert bytes(queued.payload) == answer.content and queued.message_type == "sese.024.001.12"
    # an MT sender that takes its statuses in MX
    Participant.objects.filter(bic=STRATE_BROKER).update(outbound_format="MX")
    answer = post(strate_broker, as_mt(instruction("RECE", tx="R-OTHER")), mt=True)
    assert answer["Content-Type"].startswith("text/plain")
    queued = OutboundMessage.objects.get(transaction_id="R-OTHER", status="ACCEPTED")
    assert queued.message_type == "sese.024.001.12" and queued.format == "MX"
    advice = mx.parse(bytes(queued.payload)).body
    assert (advice.transaction_id, advice.processing.code) == ("R-OTHER", m.ProcessingStatusCode.ACCEPTED)


def test_both_sides_of_a_pair_are_accepted_and_matched_into_one_transfer(nsd_broker, strate_broker):
    assert post(nsd_broker, as_mx(instruction("DELI", tx="D-1"))).status_code == 202
    receive = post(strate_broker, as_mt(instruction("RECE", tx="R-1")), mt=True)
    assert receive.status_code == 202 and receive["Content-Type"].startswith("text/plain")
    assert status_of(receive).processing.code == m.ProcessingStatusCode.ACCEPTED
    deliver, receive_side = Instruction.objects.order_by("pk")
    assert instruction_match(instruction_id=deliver.pk) is not None
    transfer = Transfer.objects.get()
    assert (transfer.deliver_id, transfer.receive_id) == (deliver.pk, receive_side.pk)
    assert set(Instruction.objects.values_list("status", flat=True)) == {"MATCHED"}
    assert instruction_match(instruction_id=receive_side.pk) is None  # already matched: nothing twice
    assert Transfer.objects.count() == 1


def test_an_instruction_built_by_python_iso20022_is_accepted(nsd_broker):
    content = {
        "SctiesSttlmTxInstr": {
            "TxId": "XSDATA-1",
            "SttlmTpAndAddtlParams": {"SctiesMvmntTp": "DELI", "Pmt": "FREE"},
            "TradDtls": {"TradDt": {"Dt": {"Dt": "2026-11-24"}}, "SttlmDt": {"Dt": {"Dt": "2026-11-26"}}},
            "FinInstrmId": {"ISIN": NSD_SHARES},
            "QtyAndAcctDtls": {
                "SttlmQty": {"Qty": {"Unit": "250"}},
                "AcctOwnr": {"Id": {"AnyBIC": NSD_BROKER}},
                "SfkpgAcct": {"Id": NSD_ACCOUNT},
            },
            "SttlmParams": {"SctiesTxTp": {"Cd": "TRAD"}},
            "RcvgSttlmPties": {
                "Dpstry": {"Id": {"AnyBIC": "STRAZAJJ"}},
                "Pty1": {"Id": {"AnyBIC": STRATE_BROKER}},
            },
        }
    }
    xml = DictDecoder().decode(content, Sese02300111).to_iso20022_xml()
    xml = re.sub(r"(</?)(\w+:)?Sese02300111\b", r"\1\2Document", xml).encode()
    response = post(nsd_broker, xml)
    assert response.status_code == 202, response.content
    assert Instruction.objects.get().quantity == Decimal(250)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"security": m.Security(isin="US0378331005")}, 422, "DSEC"),
        ({"safekeeping_account": STRATE_ACCOUNT}, 422, "SAFE"),
        ({"safekeeping_account": "NO-SUCH-ACCOUNT"}, 422, "SAFE"),
        ({"counterparty": m.Counterparty(bic="DEMBRUMM", csd_bic="NADCRUMM")}, 422, "DEPT"),
        ({"counterparty": m.Counterparty(bic="DEMAZAJJ", csd_bic="DEUTDEFF")}, 422, "DEPT"),
        ({"counterparty": m.Counterparty(bic="NOBODYZA", csd_bic="STRAZAJJ")}, 422, "ICUS"),
        ({"quantity": m.Quantity(amount=Decimal(0))}, None, "DQUA"),
        ({"quantity": m.Quantity(amount=Decimal(5), type=m.QuantityType.FACE_AMOUNT)}, 422, "DQUA"),
        ({"intended_settlement_date": dt.date(2026, 11, 20)}, 422, "DDAT"),
        ({"account_owner_bic": STRATE_BROKER}, None, "ICUS"),
        (
            {
                "payment": m.Payment.AGAINST_PAYMENT,
                "settlement_amount": m.Amount(value=Decimal(1), currency="RUB"),
            },
            422,
            "TXST",
        ),
    ],
    ids=[
        "unknown-isin",
        "account-of-another-participant",
        "unknown-account",
        "same-csd",
        "unknown-csd",
        "unknown-counterparty",
        "zero-quantity",
        "quantity-type",
        "settles-before-trade",
        "not-the-owner",
        "against-payment",
    ],
)
def test_each_kind_of_bad_instruction_gets_its_reason_code_and_leaves_nothing_half_created(
    nsd_broker, change, status, code
):
    body = instruction("DELI", tx="BAD-1", **change)
    response = post(nsd_broker, as_mx(body))
    assert response.status_code in ((status,) if status else (400, 422)), response.content
    advice = status_of(response)
    assert advice.processing.code == m.ProcessingStatusCode.REJECTED
    assert code in [reason.code for reason in advice.processing.reasons], advice
    assert response["X-Hub-Reason-Codes"].split(",")[0] == code
    assert not Instruction.objects.exists() and not Transfer.objects.exists()
    stored = InboundMessage.objects.get()
    assert stored.outcome == "REJECTED" and bytes(stored.raw) == as_mx(body)
    assert list(OutboundMessage.objects.values_list("status", flat=True)) == ["REJECTED"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"<Document", "OTHR"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "OTHR"),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:sese.023.001.09"><SctiesSttlmTxInstr/></Document>',
            "TXST",
        ),
        (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><x/></Document>', "TXST"),
    ],
    ids=["truncated", "doctype", "unsupported-version", "unsupported-type"],
)
def test_unreadable_or_unsupported_messages_are_rejected_with_400_and_stored(nsd_broker, raw, code):
    response = post(nsd_broker, raw)
    assert response.status_code == 400
    assert status_of(response).processing.reasons[0].code == code
    assert bytes(InboundMessage.objects.get().raw) == raw
    assert not Instruction.objects.exists()


def test_an_impossible_date_is_rejected_with_ddat(nsd_broker):
    raw = as_mx(instruction("DELI", tx="DATE-1")).replace(b"2026-11-26", b"2026-02-30")
    response = post(nsd_broker, raw)
    assert response.status_code == 400
    assert "DDAT" in [r.code for r in status_of(response).processing.reasons]


def test_a_malformed_mt_message_is_rejected_with_an_mt548(strate_broker):
    response = post(strate_broker, b"{1:F01DEMAZAJJAXXX0000000000}{2:I540", mt=True)
    assert response.status_code == 400 and response["Content-Type"].startswith("text/plain")
    assert status_of(response).processing.code == m.ProcessingStatusCode.REJECTED


def test_a_message_type_participants_do_not_send_is_refused(nsd_broker):
    statement = m.HoldingsStatement(statement_date=dt.date(2026, 11, 24), safekeeping_account=NSD_ACCOUNT)
    response = post(nsd_broker, mx.build(statement))
    assert response.status_code == 400 and response["X-Hub-Reason-Codes"] == "TXST"


def test_answer_headers_are_plain_strings_as_a_wsgi_server_requires(nsd_broker):
    response = post(nsd_broker, as_mx(instruction("DELI", tx="HDR-1")))
    for name in ("X-Hub-Outcome", "X-Hub-Message-Id"):
        assert type(response.headers[name]) is str, name  # wsgiref refuses str subclasses such as enums
    rejected = post(nsd_broker, as_mx(instruction("DELI", tx="HDR-2", isin="US0378331005")))
    assert type(rejected.headers["X-Hub-Reason-Codes"]) is str


@pytest.mark.django_db(transaction=True)
def test_an_instruction_committed_while_the_broker_is_down_is_answered_as_accepted(nsd_broker):
    Participant.objects.filter(bic=NSD_BROKER).update(
        webhook_url="http://127.0.0.1:9/hook", webhook_secret="s3cret-of-the-participant"
    )
    with broker_unreachable():
        response = post(nsd_broker, as_mx(instruction("DELI", tx="NO-BROKER")))
    assert response.status_code == 202, response.content
    assert response["X-Hub-Outcome"] == "ACCEPTED"
    assert status_of(response).processing.code == m.ProcessingStatusCode.ACCEPTED
    # the answer is what was committed; the lost matching task is the matching sweep's to re-drive
    assert Instruction.objects.get().status == "ACCEPTED"
    assert InboundMessage.objects.get().outcome == "ACCEPTED"
    # the status's webhook delivery is due, for the webhook sweep to send
    assert WebhookDelivery.objects.get().status == "PENDING"
    replay = post(nsd_broker, as_mx(instruction("DELI", tx="NO-BROKER")))
    assert replay.status_code == 202 and replay["X-Hub-Replay"] == "true"


def test_a_schema_invalid_message_is_rejected_naming_its_transaction_and_business_message_ids(
    nsd_broker, strate_broker
):
    raw = as_mx(instruction("DELI", tx="MY-TX-42"), bmi="MY-BMI-42").replace(b"2026-11-26", b"2026-02-30")
    response = post(nsd_broker, raw)
    assert response.status_code == 400
    answer = mx.parse(response.content)
    assert answer.body.transaction_id == "MY-TX-42"  # AcctOwnrTxId
    assert answer.header.related_business_message_id == "MY-BMI-42"  # AppHdr/Rltd
    stored = InboundMessage.objects.get()
    assert (stored.transaction_id, stored.business_message_id) == ("MY-TX-42", "MY-BMI-42")
    queued = OutboundMessage.objects.get()
    assert queued.transaction_id == "MY-TX-42" and bytes(queued.payload) == response.content
    # MT: the sender's reference, :20C::SEME, comes back as :20C::RELA
    raw = as_mt(instruction("RECE", tx="MYSEME42")).replace(b"SETT//20261126", b"SETT//20260230")
    response = post(strate_broker, raw, mt=True)
    assert response.status_code == 400 and b":20C::RELA//MYSEME42" in response.content
    assert status_of(response).transaction_id == "MYSEME42"
    assert InboundMessage.objects.get(sender__bic=STRATE_BROKER).transaction_id == "MYSEME42"


def test_a_reference_a_rejection_could_not_carry_is_not_repeated(nsd_broker):
    raw = as_mx(instruction("DELI", tx="LONG"), bmi="LONG-BMI").replace(
        b"<TxId>LONG<", b"<TxId>" + b"L" * 36 + b"<"
    )
    response = post(nsd_broker, raw)
    assert response.status_code == 400
    answer = mx.parse(response.content)
    assert answer.body.transaction_id == "NONREF" and answer.header.related_business_message_id == "LONG-BMI"
    assert InboundMessage.objects.get().transaction_id == ""
    # nothing can be read of a message that is not well-formed
    assert mx.parse(post(nsd_broker, raw[:200]).content).body.transaction_id == "NONREF"
