"""The hub envelope (AppHdr + Document), the bare Document, and what happens when either is wrong."""

import dataclasses
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from lxml import etree

from iso20022 import models as m
from iso20022 import mx
from iso20022.errors import BuildError, InvalidContent, ReasonCode, SchemaViolation, UnsupportedMessage
from iso20022.mx.schemas import ENVELOPE_SCHEMA, guideline

INSTRUCTION = m.SettlementInstruction(
    transaction_id="TX-7",
    business_message_id="BIZ-7",
    side=m.Side.RECEIVE,
    payment=m.Payment.FREE,
    trade_date=dt.date(2026, 11, 23),
    intended_settlement_date=dt.date(2026, 11, 25),
    security=m.Security(isin="ZAE000015889"),
    quantity=m.Quantity(amount=Decimal(500)),
    safekeeping_account="STR-1",
    account_owner_bic="BANKZAJJ",
    counterparty=m.Counterparty(bic="PARTRUMM", csd_bic="NADCRUMM", safekeeping_account="NSD-9"),
)
HEADER = m.BusinessHeader(
    from_bic="BANKZAJJ",
    to_bic="HUBBZAJJ",
    business_message_id="BIZ-7",
    message_definition_id="sese.023.001.11",
    creation=dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC),
)
ENVELOPE_NS = mx.ENVELOPE_NAMESPACE.encode()


def envelope_bytes() -> bytes:
    return mx.build(INSTRUCTION, header=HEADER)


def test_enveloped_instruction_parses_with_its_header_and_business_message_id():
    message = mx.parse(envelope_bytes())
    assert message.message_id == "sese.023.001.11"
    assert message.header == HEADER
    assert message.body == INSTRUCTION


def test_bare_document_parses_without_header_or_business_message_id():
    message = mx.parse(mx.build(INSTRUCTION))
    assert message.header is None
    assert message.body == dataclasses.replace(INSTRUCTION, business_message_id=None)


def test_the_envelope_validates_against_its_published_schema():
    root = etree.fromstring(envelope_bytes())
    assert guideline(ENVELOPE_SCHEMA).validate(root)
    assert etree.QName(root).namespace == mx.ENVELOPE_NAMESPACE


def test_document_before_header_in_the_envelope_is_refused():
    root = etree.fromstring(envelope_bytes())
    root.append(root[0])  # move AppHdr after Document
    with pytest.raises(SchemaViolation) as caught:
        mx.parse(etree.tostring(root))
    assert "exactly AppHdr then Document" in caught.value.first.message
    assert caught.value.first.path == "/Envlp"


def test_an_envelope_without_document_is_refused():
    root = etree.fromstring(envelope_bytes())
    root.remove(root[1])
    with pytest.raises(SchemaViolation):
        mx.parse(etree.tostring(root))


def test_a_header_alone_is_refused_with_a_pointer_to_the_envelope():
    root = etree.fromstring(envelope_bytes())
    with pytest.raises(UnsupportedMessage) as caught:
        mx.parse(etree.tostring(root[0]))
    assert mx.ENVELOPE_ROOT in caught.value.first.message


def test_a_foreign_wrapper_is_refused_naming_what_the_hub_accepts():
    root = etree.fromstring(envelope_bytes())
    data = etree.tostring(root).replace(b"Envlp", b"RequestPayload").replace(ENVELOPE_NS, b"urn:other")
    with pytest.raises(UnsupportedMessage) as caught:
        mx.parse(data)
    assert "RequestPayload" in caught.value.first.message
    assert caught.value.reason is ReasonCode.UNSUPPORTED


def test_header_naming_another_message_than_the_document_is_refused():
    data = envelope_bytes().replace(
        b"<MsgDefIdr>sese.023.001.11</MsgDefIdr>", b"<MsgDefIdr>sese.024.001.12</MsgDefIdr>"
    )
    with pytest.raises(UnsupportedMessage) as caught:
        mx.parse(data)
    assert caught.value.first.path == "/Envlp/AppHdr/MsgDefIdr"


def test_an_older_header_version_is_refused():
    data = envelope_bytes().replace(b"head.001.001.02", b"head.001.001.01")
    with pytest.raises(UnsupportedMessage) as caught:
        mx.parse(data)
    assert "head.001.001.02" in caught.value.first.message


def test_an_invalid_header_is_a_schema_violation_with_a_party_reason():
    data = envelope_bytes().replace(b"<BICFI>BANKZAJJ</BICFI>", b"<BICFI>bank</BICFI>")
    with pytest.raises(SchemaViolation) as caught:
        mx.parse(data)
    assert caught.value.first.path == "/Envlp/AppHdr/Fr/FIId/FinInstnId/BICFI"
    assert caught.value.reason is ReasonCode.PARTY


def test_header_time_without_offset_is_read_as_utc():
    data = envelope_bytes().replace(b"2026-11-24T09:30:00+00:00", b"2026-11-24T09:30:00")
    assert mx.parse(data).header.creation == HEADER.creation


def test_building_with_a_header_for_another_message_is_refused():
    with pytest.raises(UnsupportedMessage):
        mx.build(INSTRUCTION, header=dataclasses.replace(HEADER, message_definition_id="semt.002.001.11"))


def test_validate_lists_the_errors_instead_of_raising():
    assert mx.validate(envelope_bytes()) == ()
    errors = mx.validate(envelope_bytes().replace(b"<ISIN>ZAE000015889</ISIN>", b"<ISIN>?</ISIN>"))
    assert errors and errors[0].reason is ReasonCode.SECURITY


def test_message_id_for_names_the_version_the_hub_sends():
    assert mx.message_id_for(INSTRUCTION) == "sese.023.001.11"
    assert mx.message_id_for(m.StatusAdvice(transaction_id="X")) == "sese.024.001.12"


def test_a_model_cannot_be_built_as_another_message():
    with pytest.raises(UnsupportedMessage):
        mx.build(INSTRUCTION, message_id="sese.024.001.12")


def test_an_iso_reason_code_outside_the_code_list_is_refused_when_building():
    advice = m.StatusAdvice(
        transaction_id="X",
        processing=m.ProcessingStatus(code=m.ProcessingStatusCode.REJECTED, reasons=(m.Reason(code="ZZZZ"),)),
    )
    with pytest.raises(BuildError) as caught:
        mx.build(advice)
    assert "ZZZZ" in caught.value.first.message


def test_the_same_code_is_sent_as_proprietary_when_it_has_an_issuer():
    advice = m.StatusAdvice(
        transaction_id="X",
        processing=m.ProcessingStatus(
            code=m.ProcessingStatusCode.REJECTED, reasons=(m.Reason(code="ZZZZ", issuer="HUB"),)
        ),
    )
    assert mx.parse(mx.build(advice)).body == advice


def test_a_status_the_message_cannot_carry_is_refused_when_building():
    advice = m.StatusAdvice(
        transaction_id="X", processing=m.ProcessingStatus(code=m.ProcessingStatusCode.DENIED)
    )
    with pytest.raises(BuildError):
        mx.build(advice)


def test_partial_transaction_details_are_refused_when_building():
    request = m.CancellationRequest(
        transaction_id="X",
        side=m.Side.DELIVER,
        payment=m.Payment.FREE,
        safekeeping_account="A",
        security=m.Security(isin="ZAE000015889"),
    )
    with pytest.raises(BuildError) as caught:
        mx.build(request)
    assert "quantity" in caught.value.first.message


def test_an_unknown_transaction_type_is_refused_when_building():
    with pytest.raises(BuildError) as caught:
        mx.build(dataclasses.replace(INSTRUCTION, transaction_type="XXXX"))
    assert caught.value.reason is ReasonCode.UNSUPPORTED


def test_an_error_value_reads_as_where_what_and_why():
    data = mx.build(INSTRUCTION).replace(b"<ISIN>ZAE000015889</ISIN>", b"<ISIN>?</ISIN>")
    with pytest.raises(SchemaViolation) as caught:
        mx.parse(data)
    text = str(caught.value.first)
    assert text.startswith("line 2, /Document/SctiesSttlmTxInstr/FinInstrmId/ISIN: ")
    assert text.endswith("[DSEC]")


def test_parsing_from_many_threads_at_once_gives_each_caller_its_own_answer():
    good = envelope_bytes()
    bad = mx.build(INSTRUCTION).replace(b"<ISIN>ZAE000015889</ISIN>", b"<ISIN>?</ISIN>")

    def work(n: int) -> str:
        for _ in range(200):
            if n % 2:
                assert mx.parse(good).body == INSTRUCTION
            else:
                with pytest.raises(SchemaViolation) as caught:
                    mx.parse(bad)
                assert caught.value.first.path.endswith("/ISIN")
        return "done"

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(work, range(8))) == ["done"] * 8


def _sese023_with(edit) -> bytes:
    """A sese.023 (a delivery with a client on each side), edited by ``edit(document, ns)``."""
    from tests.iso20022.test_mt_messages import instruction

    root = etree.fromstring(mx.build(instruction()))
    ns = {"d": etree.QName(root).namespace}
    edit(root, ns)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _proprietary(party: etree._Element, ns: dict, identifier: str, issuer: str) -> None:
    any_bic = party.find("d:Id/d:AnyBIC", ns)
    holder = any_bic.getparent()
    holder.remove(any_bic)
    proprietary = etree.SubElement(holder, f"{{{ns['d']}}}PrtryId")
    etree.SubElement(proprietary, f"{{{ns['d']}}}Id").text = identifier
    etree.SubElement(proprietary, f"{{{ns['d']}}}Issr").text = issuer


def test_a_client_identified_by_a_proprietary_id_is_refused_not_dropped():
    def edit(root, ns):
        _proprietary(root.find(".//d:RcvgSttlmPties/d:Pty2", ns), ns, "INVESTOR-42", "STRATE")

    with pytest.raises(InvalidContent, match="proprietary id"):
        mx.parse(_sese023_with(edit))


def test_the_senders_own_party_must_be_its_account_owner():
    def own_party(bic):
        def edit(root, ns):
            own = root.find(".//d:DlvrgSttlmPties", ns)
            party = etree.Element(f"{{{ns['d']}}}Pty1")
            etree.SubElement(etree.SubElement(party, f"{{{ns['d']}}}Id"), f"{{{ns['d']}}}AnyBIC").text = bic
            own.insert(1, party)  # after Dpstry

        return edit

    assert mx.parse(_sese023_with(own_party("BANKRUMMXXX"))).body.account_owner_bic == "BANKRUMMXXX"
    with pytest.raises(InvalidContent, match="not its account owner"):
        mx.parse(_sese023_with(own_party("OWNAGTXXXXX")))
