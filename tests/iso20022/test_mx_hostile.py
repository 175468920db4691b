"""Hostile and broken MX input is refused with a precise error value, quickly, and nothing leaks."""

import datetime as dt
import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from iso20022 import models as m
from iso20022 import mx
from iso20022.errors import (
    InvalidContent,
    Iso20022Error,
    MalformedMessage,
    ReasonCode,
    SchemaViolation,
    UnsupportedMessage,
)
from iso20022.mx import codes, safexml
from iso20022.mx.safexml import Limits, _parser
from iso20022.rejection import rejection_advice

SECONDS = 2.0  # generous: each refusal below takes milliseconds

INSTRUCTION = m.SettlementInstruction(
    transaction_id="TX-1",
    side=m.Side.DELIVER,
    payment=m.Payment.AGAINST_PAYMENT,
    trade_date=dt.date(2026, 11, 23),
    intended_settlement_date=dt.date(2026, 11, 25),
    security=m.Security(isin="RU000A0JX0J2", description="OFZ 26207"),
    quantity=m.Quantity(amount=Decimal(1000), type=m.QuantityType.FACE_AMOUNT),
    safekeeping_account="NSD-001",
    account_owner_bic="PARTRUMM",
    counterparty=m.Counterparty(bic="BANKZAJJ", csd_bic="STRAZAJJ", safekeeping_account="ZA-7"),
    settlement_amount=m.Amount(value=Decimal("1012.50"), currency="RUB"),
)
SESE023 = "urn:iso:std:iso:20022:tech:xsd:sese.023.001.11"


def pretty(model=INSTRUCTION) -> bytes:
    return etree.tostring(
        etree.fromstring(mx.build(model)), pretty_print=True, xml_declaration=True, encoding="UTF-8"
    )


def refuse(data: bytes, expected: type[Iso20022Error] = MalformedMessage, **kwargs) -> Iso20022Error:
    started = time.perf_counter()
    with pytest.raises(expected) as caught:
        mx.parse(data, **kwargs)
    assert time.perf_counter() - started < SECONDS
    return caught.value


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:sese.023.001.11"><SctiesSttlmTxInstr><TxId>&lol9;</TxId>
</SctiesSttlmTxInstr></Document>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:sese.023.001.11"><SctiesSttlmTxInstr><TxId>&secret;</TxId>
</SctiesSttlmTxInstr></Document>
"""


def test_billion_laughs_is_refused_before_any_entity_is_expanded():
    error = refuse(BILLION_LAUGHS)
    assert error.reason is ReasonCode.OTHER
    assert "DOCTYPE" in error.first.message
    assert error.first.line == 2


def test_external_entity_is_refused_and_nothing_is_read():
    error = refuse(EXTERNAL_ENTITY)
    assert "DOCTYPE" in error.first.message
    assert "root:" not in str(error)


def test_hardened_parser_itself_neither_expands_nor_fetches_entities():
    """Defence in depth: even if a DOCTYPE got past the pre-check, the parser resolves nothing."""
    root = etree.fromstring(EXTERNAL_ENTITY, _parser())
    assert "root:" not in etree.tostring(root).decode()
    started = time.perf_counter()
    try:
        root = etree.fromstring(BILLION_LAUGHS, _parser())
    except etree.XMLSyntaxError as exc:  # libxml2's own amplification guard may stop it first
        assert "amplification" in str(exc)
    else:
        assert len(etree.tostring(root)) < 10_000
    assert time.perf_counter() - started < SECONDS


def test_a_harmless_doctype_is_refused_too():
    data = pretty().replace(b"?>\n", b'?>\n<!DOCTYPE Document SYSTEM "http://example.com/iso.dtd">\n', 1)
    error = refuse(data)
    assert "DOCTYPE" in error.first.message


def test_deep_nesting_is_refused_with_the_path_where_it_got_too_deep():
    depth = 60
    data = b'<Document xmlns="' + SESE023.encode() + b'">' + b"<a>" * depth + b"</a>" * depth + b"</Document>"
    error = refuse(data)
    assert "deeper than 40" in error.first.message
    assert error.first.path.startswith("/Document/a/a/")
    assert error.first.line == 1


def test_pathologically_deep_nesting_is_refused_quickly():
    depth = 100_000
    data = b"<Document>" + b"<a>" * depth + b"</a>" * depth + b"</Document>"
    error = refuse(data)
    assert error.reason is ReasonCode.OTHER


def test_truncated_message_is_refused_with_the_line_where_it_ends():
    data = pretty()
    cut = data[: len(data) // 2]
    error = refuse(cut)
    assert "not well-formed" in error.first.message
    assert error.first.line == cut.count(b"\n") + 1


def test_bytes_that_are_not_utf8_are_refused():
    data = pretty().replace(b"OFZ 26207", "OFZ caf\u00e9".encode("latin-1"))
    error = refuse(data)
    assert "UTF-8" in error.first.message
    assert error.first.line is not None


def test_a_declared_encoding_other_than_utf8_is_refused():
    data = pretty().replace(b"encoding='UTF-8'", b"encoding='ISO-8859-1'")
    assert b"ISO-8859-1" in data
    error = refuse(data)
    assert "ISO-8859-1" in error.first.message


def test_utf16_is_refused():
    data = pretty().decode().replace("encoding='UTF-8'", "encoding='UTF-16'").encode("utf-16")
    error = refuse(data)
    assert "UTF-8" in error.first.message


def test_a_ten_megabyte_message_is_refused_without_being_parsed():
    data = pretty().replace(b"<TxId>TX-1</TxId>", b"<TxId>TX-1</TxId><!--" + b"x" * 10_000_000 + b"-->")
    assert len(data) > 10_000_000
    error = refuse(data)
    assert "over the limit" in error.first.message


def test_the_size_limit_is_configurable():
    data = pretty()
    refuse(data, limits=Limits(max_bytes=100))
    assert mx.parse(data, limits=Limits(max_bytes=len(data))).body == INSTRUCTION


def test_empty_input_and_binary_junk_are_refused():
    refuse(b"")
    refuse(b"   \n")
    refuse(bytes(range(256)))


def test_wrong_namespace_is_refused_as_unsupported():
    data = pretty().replace(SESE023.encode(), b"urn:example:not-iso")
    error = refuse(data, UnsupportedMessage)
    assert error.reason is ReasonCode.UNSUPPORTED
    assert "urn:example:not-iso" in error.first.message
    assert error.first.path == "/Document"


@pytest.mark.parametrize(
    ("message_id", "says"),
    [
        ("sese.023.001.09", "the hub accepts sese.023.001.11"),
        ("sese.023.002.11", "not a supported variant or version of sese.023"),
        ("sese.024.001.14", "the hub accepts sese.024.001.12"),
        ("pacs.009.001.09", "not a message the hub accepts"),
    ],
)
def test_unsupported_type_or_version_is_refused_naming_what_is_accepted(message_id, says):
    data = pretty().replace(b"sese.023.001.11", message_id.encode())
    error = refuse(data, UnsupportedMessage)
    assert says in error.first.message
    assert error.reason is ReasonCode.UNSUPPORTED


def test_schema_violation_names_the_element_its_line_and_an_iso_reason():
    data = pretty().replace(b"<ISIN>RU000A0JX0J2</ISIN>", b"<ISIN>not-an-isin</ISIN>")
    error = refuse(data, SchemaViolation)
    assert error.reason is ReasonCode.SECURITY
    assert error.first.path == "/Document/SctiesSttlmTxInstr/FinInstrmId/ISIN"
    lines = data.decode().splitlines()
    assert "not-an-isin" in lines[error.first.line - 1]


def test_an_unexpected_element_is_a_schema_violation_at_its_path():
    data = pretty().replace(b"<TxId>TX-1</TxId>", b"<TxId>TX-1</TxId><Foo/>")
    error = refuse(data, SchemaViolation)
    assert error.first.path == "/Document/SctiesSttlmTxInstr/Foo"
    assert "Foo" in error.first.message and "{" not in error.first.message


def test_a_wrong_isin_check_digit_is_rejected_as_an_invalid_security():
    data = pretty().replace(b"RU000A0JX0J2", b"RU000A0JX0J3")
    error = refuse(data, InvalidContent)
    assert error.reason is ReasonCode.SECURITY
    assert error.first.path.endswith("/FinInstrmId/ISIN")


def test_against_payment_without_amount_is_rejected_as_an_invalid_amount():
    xml = etree.fromstring(pretty())
    body = xml[0]
    body.remove(body[-1])  # SttlmAmt
    error = refuse(etree.tostring(xml), InvalidContent)
    assert error.reason is ReasonCode.AMOUNT


def test_every_refusal_can_be_answered_with_an_official_sese024_rejection(reference_dir):
    official = etree.XMLSchema(etree.parse(str(reference_dir / "xsd" / "sese.024.001.12.xsd")))
    for hostile in (BILLION_LAUGHS, pretty()[:300], pretty().replace(b"RU000A0JX0J2", b"XX")):
        with pytest.raises(Iso20022Error) as caught:
            mx.parse(hostile)
        advice = rejection_advice(caught.value)
        document = mx.build(advice)
        assert official.validate(etree.fromstring(document)), official.error_log
        parsed = mx.parse(document).body
        assert parsed.transaction_id == "NONREF"
        assert parsed.processing.code is m.ProcessingStatusCode.REJECTED
        assert parsed.processing.reasons[0].code == caught.value.reason.value


def test_every_reason_code_the_library_raises_is_an_iso_rejection_code():
    assert {code.value for code in ReasonCode} <= codes.REJECTION_75


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_mutation_of_a_valid_message_is_parsed_or_refused_with_an_error_value_never_a_crash(data):
    """Whatever the bytes, the answer is a model or an ``Iso20022Error`` (a sese.024 rejection), never an
    unexpected exception (a 500)."""
    original = data.draw(st.sampled_from(MUTATION_SEEDS))
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        action = data.draw(st.sampled_from(["replace", "delete", "insert", "truncate"]))
        if action == "replace":
            raw[position] = data.draw(st.sampled_from(b"<>/&;\"'=:0123456789AZaz \n\x00\xff-T."))
        elif action == "delete":
            del raw[position : position + data.draw(st.integers(min_value=1, max_value=12))]
        elif action == "insert":
            raw[position:position] = data.draw(st.sampled_from(FRAGMENTS))
        else:
            del raw[position:]
        if not raw:
            break
    try:
        mx.parse(bytes(raw))
    except Iso20022Error as exc:
        assert exc.errors and all(e.reason in ReasonCode for e in exc.errors)


FRAGMENTS = [
    b"<Foo/>",
    b"</Unit>",
    b"<!DOCTYPE x>",
    b"&amp;",
    b"&bogus;",
    b"2026-02-30",
    b"-0001-01-01",
    b"24:00:00",
    b"<Unit>1E5</Unit>",
    b"<Cd>ZZZZ</Cd>",
    b"<![CDATA[x]]>",
    b"<?pi x?>",
    b"<!-- c -->",
    b"\xc3\x28",
    b'xmlns="urn:iso:std:iso:20022:tech:xsd:sese.024.001.12"',
    b"<PgNb>99999</PgNb>",
]


def _seeds() -> list[bytes]:
    day = dt.date(2026, 11, 24)
    holdings = m.HoldingsStatement(
        statement_date=day,
        safekeeping_account="NSD-001",
        balances=(
            m.HoldingBalance(
                security=m.Security(isin="RU000A0JX0J2"),
                aggregate=Decimal(10),
                available=Decimal(7),
                sub_balances=(m.SubBalanceQuantity(balance=m.SubBalance.BLOCKED, quantity=Decimal(3)),),
            ),
        ),
    )
    advice = m.StatusAdvice(
        transaction_id="TX-1",
        processing=m.ProcessingStatus(code=m.ProcessingStatusCode.REJECTED, reasons=(m.Reason(code="DSEC"),)),
    )
    header = m.BusinessHeader(
        from_bic="PARTRUMM",
        to_bic="HUBBRUMM",
        business_message_id="B-1",
        message_definition_id="sese.023.001.11",
        creation=dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC),
    )
    return [pretty(), mx.build(holdings), mx.build(advice), mx.build(INSTRUCTION, header=header)]


MUTATION_SEEDS = _seeds()


@pytest.mark.parametrize(
    "date", [b"2026-11-25Z", b"2026-11-25+03:00", b"-2026-11-25", b"12026-11-25", b"2026-02-30"]
)
def test_a_date_that_is_not_a_plain_calendar_date_is_refused_as_an_invalid_settlement_date(date):
    data = pretty().replace(b"2026-11-25", date)
    error = refuse(data, Iso20022Error)
    assert error.reason is ReasonCode.SETTLEMENT_DATE


def test_a_flood_of_elements_under_the_size_limit_is_refused_before_any_tree_is_built():
    data = b'<Document xmlns="' + SESE023.encode() + b'">' + b"<X/>" * 1_000_000 + b"</Document>"
    error = refuse(data)
    assert len(error.errors) == 1 and error.reason is ReasonCode.OTHER
    assert "1000002 elements and attributes, over the limit of 400000" in error.first.message


def test_a_flood_of_attributes_counts_against_the_same_limit():
    attributes = b" ".join(b'a%d=""' % n for n in range(50))
    data = b'<Document xmlns="' + SESE023.encode() + b'">' + (b"<X " + attributes + b"/>") * 10_000
    error = refuse(data + b"</Document>", limits=Limits(max_nodes=100_000))
    assert "over the limit of 100000" in error.first.message


def test_a_flood_of_elements_under_its_own_limit_is_refused_as_invalid_against_the_schema():
    data = b'<Document xmlns="' + SESE023.encode() + b'">' + b"<X/>" * 300_000 + b"</Document>"
    error = refuse(data, SchemaViolation)
    assert len(error.errors) == 1
    assert error.first.path == "/Document/X"


def test_whatever_libxml2_refuses_while_reading_is_a_malformed_message(monkeypatch):
    # libxml2 caps an XPath node-set at ten million nodes: a tree that large reaches the depth check only
    # with limits raised far past the hub's, so the refusal is staged here
    def node_set_too_large(max_depth):
        def evaluate(root):
            raise etree.XPathEvalError("Memory allocation failed : growing nodeset hit limit")

        return evaluate

    monkeypatch.setattr(safexml, "_too_deep", node_set_too_large)
    error = refuse(pretty())
    assert error.reason is ReasonCode.OTHER and "growing nodeset hit limit" in error.first.message


def test_statement_line_errors_name_the_element_of_the_line():
    holdings = mx.build(MUTATION_SEEDS_HOLDINGS)
    error = refuse(holdings.replace(b"RU000A0JX0J2", b"RU000A0JX0J3"), InvalidContent)
    assert error.reason is ReasonCode.SECURITY
    assert error.first.path == "/Document/SctiesBalCtdyRpt/BalForAcct/FinInstrmId/ISIN"
    unknown = holdings.replace(b"<Prtry><Id>AVAI</Id>", b"<Prtry><Id>ZZZZ</Id>")
    assert unknown != holdings
    error = refuse(unknown, InvalidContent)
    assert error.first.path == "/Document/SctiesBalCtdyRpt/BalForAcct/BalBrkdwn/SubBalTp/Prtry"


MUTATION_SEEDS_HOLDINGS = m.HoldingsStatement(
    statement_date=dt.date(2026, 11, 24),
    safekeeping_account="NSD-001",
    balances=(
        m.HoldingBalance(
            security=m.Security(isin="RU000A0JX0J2"),
            aggregate=Decimal(10),
            not_available=Decimal(3),
            sub_balances=(m.SubBalanceQuantity(balance=m.SubBalance.AVAILABLE, quantity=Decimal(7)),),
        ),
    ),
)
