"""The FIN syntax layer: blocks 1-5, line ends, field formats, 16R/16S sequences."""

import time
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iso20022.errors import MalformedMessage, ReasonCode
from iso20022.mt import fields
from iso20022.mt.fin import build_fin, parse_fin

BODY = [
    ":16R:GENL",
    ":20C::SEME//REF-1",
    ":23G:NEWM",
    ":16S:GENL",
    ":16R:TRADDET",
    ":98A::SETT//20261124",
    ":35B:ISIN US0378331005",
    "/XX/APPLE INC",
    "COMMON STOCK",
    ":16S:TRADDET",
    ":16R:FIAC",
    ":36B::SETT//UNIT/100,",
    ":97A::SAFE//123",
    ":16S:FIAC",
]
HEADER = "{1:F01BANKRUMMAXXX1234567890}{2:I540NADCRUMMXXXXN}{3:{108:MUR123}{119:STP}}"


def fin(lines=BODY, newline="\r\n", header=HEADER, trailer="{5:{CHK:ABCDEF123456}}"):
    return header + "{4:" + newline + newline.join(lines) + newline + "-}" + trailer


def test_blocks_one_to_five_are_read():
    message = parse_fin(fin())
    assert message.basic.lt_address == "BANKRUMMAXXX"
    assert message.basic.session == "1234" and message.basic.sequence == "567890"
    assert message.sender == "BANKRUMMXXX"
    assert message.message_type == "540"
    assert message.receiver == "NADCRUMMXXX"
    assert message.user == (("108", "MUR123"), ("119", "STP"))
    assert message.trailer == (("CHK", "ABCDEF123456"),)


def test_crlf_and_lf_line_ends_give_the_same_tree():
    assert parse_fin(fin(newline="\r\n")).text == parse_fin(fin(newline="\n")).text


def test_sequences_become_a_tree_and_fields_keep_their_line():
    root = parse_fin(fin()).text
    assert [s.name for s in root.items] == ["GENL", "TRADDET", "FIAC"]
    settlement_date = root.find("TRADDET").field("98A", "SETT")
    assert settlement_date.value == date(2026, 11, 24)
    assert settlement_date.line == 7


def test_a_qualified_field_is_split_into_qualifier_issuer_and_typed_value():
    field = fields.parse_field("22F", ":SETR/XSTR/TRAD")
    assert (field.qualifier, field.issuer, field.value) == ("SETR", "XSTR", "TRAD")
    assert fields.parse_field("36B", ":SETT//UNIT/100,").value == fields.Quantity("UNIT", Decimal("100"))
    assert fields.parse_field("36B", ":SETT//FAMT/2500000,75").value.amount == Decimal("2500000.75")
    assert fields.parse_field("97A", ":SAFE//123").value == "123"
    assert fields.parse_field("95P", ":PSET//NADCRUMM").value == "NADCRUMM"
    assert fields.parse_field("20C", ":SEME//REF").value == "REF"
    assert fields.parse_field("25D", ":IPRC//PACK").value == "PACK"
    assert fields.parse_field("24B", ":REJT//DDAT").value == "DDAT"
    assert fields.parse_field("93B", ":AGGR//UNIT/N5,5").value == fields.Balance("UNIT", Decimal("-5.5"))
    assert fields.parse_field("19A", ":SETT//EUR1000,").value == fields.Amount("EUR", Decimal("1000"))


def test_the_security_field_keeps_isin_and_description_lines():
    security = parse_fin(fin()).text.find("TRADDET").field("35B").value
    assert security.isin == "US0378331005"
    assert security.description == "/XX/APPLE INC\nCOMMON STOCK"


def test_a_parsed_message_builds_back_to_the_same_text():
    text = fin()
    assert build_fin(parse_fin(text)) == text


def test_a_body_that_opens_with_text_instead_of_a_field_is_refused():
    with pytest.raises(MalformedMessage, match="must start with a field"):
        parse_fin(fin(["GENL", *BODY]))


@pytest.mark.parametrize(
    ("lines", "fragment", "line"),
    [
        ([*BODY, ":16R:SETDET"], "SETDET opened by :16R: is never closed", 16),
        ([*BODY, ":16S:SETDET"], "closes a sequence that was never opened", 16),
        ([":16R:GENL", ":16R:LINK", ":16S:GENL", ":16S:LINK"], "closes sequence LINK", 4),
    ],
)
def test_unbalanced_sequences_are_refused_with_their_line(lines, fragment, line):
    with pytest.raises(MalformedMessage) as refused:
        parse_fin(fin(lines))
    assert fragment in str(refused.value)
    assert any(e.line == line for e in refused.value.errors)


@pytest.mark.parametrize("value", [":SETT//20261131", ":SETT//2026112", ":SETT//2026-11-24"])
def test_a_bad_date_is_refused_with_reason_ddat_line_and_tag(value):
    lines = [*BODY]
    lines[5] = f":98A:{value}"
    with pytest.raises(MalformedMessage) as refused:
        parse_fin(fin(lines))
    error = refused.value.first
    assert error.reason is ReasonCode.SETTLEMENT_DATE
    assert error.line == 7
    assert error.path == "TRADDET/98A"


@pytest.mark.parametrize(
    "value",
    [
        ":SETT//UNIT/100",
        ":SETT//UNIT/100.5",
        ":SETT//UNIT/1,0,0",
        ":SETT//100,",
        ":SETT//UNIT/12345678901234567,",
        ":SETT//AMOR/100,",
    ],
)
def test_a_bad_quantity_is_refused_with_reason_dqua(value):
    lines = [*BODY]
    lines[11] = f":36B:{value}"
    with pytest.raises(MalformedMessage) as refused:
        parse_fin(fin(lines))
    assert refused.value.reason is ReasonCode.QUANTITY
    assert refused.value.first.path == "FIAC/36B"


def test_a_field_seen_before_is_the_same_field_at_its_own_line():
    fields._typed.cache_clear()
    first = fields.parse_field("36B", ":SETT//UNIT/100,", line=12)
    again = fields.parse_field("36B", ":SETT//UNIT/100,", line=40)
    assert fields._typed.cache_info().hits == 1  # typed once
    assert (again.qualifier, again.value, again.line) == ("SETT", fields.Quantity("UNIT", Decimal(100)), 40)
    assert first.line == 12 and first.value == again.value


def test_a_bad_field_is_refused_every_time_it_comes():
    lines = [*BODY]
    lines[5] = ":98A::SETT//20261131"
    for _ in range(2):  # the second time too: the cache of typed fields keeps no refusal
        with pytest.raises(MalformedMessage) as refused:
            parse_fin(fin(lines))
        assert refused.value.first.reason is ReasonCode.SETTLEMENT_DATE


def test_every_fault_is_reported_not_only_the_first():
    lines = [*BODY]
    lines[5] = ":98A::SETT//20261399"
    lines[11] = ":36B::SETT//UNIT/x"
    with pytest.raises(MalformedMessage) as refused:
        parse_fin(fin(lines))
    assert {e.reason for e in refused.value.errors} == {ReasonCode.SETTLEMENT_DATE, ReasonCode.QUANTITY}


def test_a_qualified_field_without_its_qualifier_is_refused():
    lines = [*BODY]
    lines[1] = ":20C:REF-1"
    with pytest.raises(MalformedMessage, match="lacks a qualifier"):
        parse_fin(fin(lines))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{2:I540NADCRUMMXXXXN}{4:\r\n:23G:NEWM\r\n-}", "block 1 is missing"),
        (HEADER + "{4:\r\n:23G:NEWM\r\n", "not closed by a line '-}'"),
        ("{1:F01BANK}{2:I540NADCRUMMXXXXN}{4:\r\n:23G:NEWM\r\n-}", "block 1"),
        ("{1:F01BANKRUMMAXXX1234567890}{2:X540}{4:\r\n:23G:NEWM\r\n-}", "block 2"),
        ("hello", "unexpected 'h'"),
    ],
)
def test_broken_envelopes_are_refused_with_a_clear_message(text, fragment):
    with pytest.raises(MalformedMessage, match=fragment):
        parse_fin(text)


def test_non_ascii_bytes_are_refused():
    with pytest.raises(MalformedMessage, match="not ASCII"):
        parse_fin(fin().encode() + "é".encode())


def test_characters_outside_the_swift_x_set_are_refused():
    lines = [*BODY]
    lines[1] = ":20C::SEME//REF@1"
    with pytest.raises(MalformedMessage, match="character set"):
        parse_fin(fin(lines))


def test_an_output_header_gives_the_sender_from_the_message_input_reference():
    header = "{1:F01NADCRUMMAXXX0001000001}{2:O5481200261124BANKRUMMAXXX00010000012611241201N}"
    message = parse_fin(fin([":16R:GENL", ":23G:INST", ":16S:GENL"], header=header))
    assert message.message_type == "548"
    assert message.sender == "BANKRUMMXXX"
    assert message.receiver == "NADCRUMMXXX"
    assert build_fin(message).startswith(header)


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("100"), "100,"),
        (Decimal("2.50"), "2,5"),
        (Decimal("0.001"), "0,001"),
        (Decimal("1E+3"), "1000,"),
    ],
)
def test_decimals_are_written_with_a_comma_and_no_exponent(amount, text):
    assert fields.format_decimal(amount) == text
    assert fields.parse_decimal(text) == amount


def test_long_text_wraps_at_35_characters_and_unwraps_to_the_same_text():
    text = "A" * 80
    wrapped = fields.wrap(text)
    assert [len(line) for line in wrapped.split("\n")] == [35, 35, 10]
    assert fields.unwrap(wrapped) == text
    assert fields.unwrap(fields.wrap("SHORT\nLINES")) == "SHORT\nLINES"


@pytest.mark.parametrize("text", ["A" * 35 + ":B", "A" * 34 + "::-B" + "C" * 40, "A" * 33 + "X-" + "Y" * 50])
def test_wrapping_never_starts_a_line_with_a_colon_or_dash_and_still_unwraps_exactly(text):
    wrapped = fields.wrap(text)
    assert all(line[:1] not in (":", "-") for line in wrapped.split("\n"))
    assert fields.unwrap(wrapped) == text


@given(text=st.text(alphabet="AB :-", min_size=1, max_size=200).filter(lambda t: t[0] not in ":-"))
def test_wrap_and_unwrap_are_inverse_for_single_paragraphs(text):
    assert fields.unwrap(fields.wrap(text)) == text


def test_a_field_whose_line_would_start_with_a_dash_cannot_be_built():
    with pytest.raises(fields.FieldFormatError, match="forbids"):
        fields.make_field("35B", None, fields.SecurityId("US0378331005", "-}"))


# ------------------------------------------------------------------------------ property: any tree


from iso20022.mt.fields import make_field  # noqa: E402
from iso20022.mt.fin import Sequence, input_message  # noqa: E402

_qualifiers = st.from_regex(r"[A-Z]{4}", fullmatch=True)
_typed_fields = st.one_of(
    st.builds(lambda q, d: make_field("98A", q, d), _qualifiers, st.dates()),
    st.builds(
        lambda q, k, n: make_field("36B", q, fields.Quantity(k, n)),
        _qualifiers,
        st.sampled_from(["UNIT", "FAMT"]),
        st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False, allow_infinity=False),
    ),
    st.builds(
        lambda q, v: make_field("20C", q, v),
        _qualifiers,
        st.from_regex(
            r"[A-Z0-9](/?[A-Z0-9\-]){0,7}", fullmatch=True
        ),  # FIN rule T26: no // and no / at either end
    ),
    st.builds(
        lambda q, i, c: make_field("22F", q, c, i),
        _qualifiers,
        st.none() | st.from_regex(r"[A-Z]{4,8}", fullmatch=True),
        _qualifiers,
    ),
    st.builds(
        lambda q, t: make_field("70E", q, fields.wrap(t)),
        _qualifiers,
        st.from_regex(r"[A-Z0-9][A-Z0-9 ,.]{0,300}[A-Z0-9]", fullmatch=True),
    ),
)
_names = st.from_regex(r"[A-Z]{4,8}", fullmatch=True)
_trees = st.recursive(
    st.lists(_typed_fields, max_size=4),
    lambda children: st.lists(st.one_of(_typed_fields, st.builds(Sequence, _names, children)), max_size=4),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(items=_trees, newline=st.sampled_from(["\r\n", "\n"]))
def test_any_tree_of_sequences_and_fields_builds_and_parses_back_equal(items, newline):
    message = input_message("540", "BANKRUMMXXX", "NADCRUMMXXX", Sequence("", items))
    text = build_fin(message).replace("\r\n", newline)
    parsed = parse_fin(text)

    def strip_lines(node):
        return [
            (i.tag, i.raw, i.value) if not isinstance(i, Sequence) else (i.name, strip_lines(i))
            for i in node.items
        ]

    assert strip_lines(parsed.text) == strip_lines(message.text)
    assert build_fin(parsed) == build_fin(message)


# ------------------------------------------------------------------------------ hostile input


def test_sequences_nested_too_deep_are_refused():
    depth = 40
    lines = [f":16R:S{i:03d}" for i in range(depth)] + [f":16S:S{i:03d}" for i in reversed(range(depth))]
    with pytest.raises(MalformedMessage, match="nested deeper than 16") as refused:
        parse_fin(fin(lines))
    assert len(refused.value.errors) <= 51


def test_a_message_over_the_size_limit_is_refused_before_parsing():
    huge = fin([*BODY, *([":70E::SPRO//" + "X" * 35] * 80_000)])
    started = time.perf_counter()
    with pytest.raises(MalformedMessage, match="longer than"):
        parse_fin(huge)
    assert time.perf_counter() - started < 1


def test_a_flood_of_faults_is_reported_as_a_bounded_list():
    lines = [":16R:GENL", *([":98A::SETT//2026"] * 5000), ":16S:GENL"]
    with pytest.raises(MalformedMessage) as refused:
        parse_fin(fin(lines))
    assert len(refused.value.errors) == 51
    assert "4950 more errors" in str(refused.value.errors[-1])


def test_an_unclosed_user_header_is_refused():
    with pytest.raises(MalformedMessage, match="block 3 is not closed"):
        parse_fin("{1:F01BANKRUMMAXXX1234567890}{2:I540NADCRUMMXXXXN}{3:{108:MUR}{4:\r\n:23G:NEWM\r\n-}")


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(st.one_of(_typed_fields, st.builds(Sequence, _names, st.just([]))), max_size=8),
    tag=st.sampled_from(["98A", "98a", "98C", "36B", "36a", "20C", "22F", "70E", "95P"]),
    qualifier=st.none() | _qualifiers,
    name=_names,
)
def test_a_field_or_sequence_looked_up_is_the_first_one_the_iterators_give(items, tag, qualifier, name):
    # ``field`` and ``sequence`` scan without generators; ``fields`` and ``sequences`` define what they find
    present = [item for item in items if not isinstance(item, Sequence)]
    queries = [
        (tag, qualifier),
        *((f.tag, f.qualifier) for f in present),
        *((f.tag[:2] + "a", None) for f in present),
    ]
    node = Sequence("GENL", items)

    for looked_up, wanted in queries:
        assert node.field(looked_up, wanted) is next(node.fields(looked_up, wanted), None)
    for wanted_name in [name, *(item.name for item in items if isinstance(item, Sequence))]:
        assert node.sequence(wanted_name) is next(node.sequences(wanted_name), None)
