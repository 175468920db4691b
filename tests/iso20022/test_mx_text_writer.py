"""``mx.build`` writes with ``TextWriter``: for every message the hub builds, bare or in the envelope, the
bytes are exactly those of the lxml tree the same builders make with ``Writer``, serialised by lxml; and
any text is escaped, or refused, exactly as lxml does."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from iso20022 import mx
from iso20022.mx import codec, head, registry
from iso20022.mx.xmltree import TextWriter, Writer
from tests.iso20022.test_mx_roundtrip import SETTINGS, STRATEGIES, _with_definition, headers


def lxml_build(model, header=None) -> bytes:
    """The reference: the lxml tree, serialised by lxml (how ``mx.build`` wrote messages before)."""
    document = codec.build_document(model)
    if header is None:
        return etree.tostring(document, xml_declaration=True, encoding="UTF-8")
    envelope = etree.Element(codec._ENVELOPE_TAG, nsmap={None: mx.ENVELOPE_NAMESPACE})
    envelope.append(head.build(Writer(registry.HEADER_VERSIONS[0].namespace), header))
    envelope.append(document)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize("message_id", sorted(STRATEGIES))
def test_a_message_is_written_byte_for_byte_as_lxml_writes_it(message_id):
    @SETTINGS
    @given(model=STRATEGIES[message_id], header=st.none() | headers)
    def check(model, header):
        if header is not None:
            header = _with_definition(header, message_id)
        assert mx.build(model, header=header) == lxml_build(model, header)

    check()


def _write_both(text: str, attribute: str) -> tuple[object, object]:
    """(TextWriter's bytes or its error type, lxml's bytes or its error type) for one element."""
    outcomes = []
    for writer in (TextWriter("urn:x"), Writer("urn:x")):
        try:
            root = writer.root("R")
            writer.add(root, "T", text, Ccy=attribute)
            writer.path(root, "A/B", text)
            writer.add(root, "E")
            if isinstance(writer, TextWriter):
                outcomes.append(writer.to_text(root).encode())
            else:
                outcomes.append(etree.tostring(root, encoding="UTF-8"))
        except ValueError:
            outcomes.append(ValueError)
    return outcomes[0], outcomes[1]


@SETTINGS
@given(text=st.text(), attribute=st.text())
def test_any_text_is_escaped_or_refused_as_lxml_does(text, attribute):
    ours, theirs = _write_both(text, attribute)
    assert ours == theirs


@pytest.mark.parametrize(
    "text",
    [
        "a & b < c > d",
        "quote \" and ' apostrophe",
        "tab\tnew\nline\rreturn",
        "\x00",
        "\x1f",
        "\ufffe",
        "\ud800",
        "é€𝄞",
        "",
    ],
)
def test_special_characters_are_escaped_or_refused_as_lxml_does(text):
    ours, theirs = _write_both(text, text)
    assert ours == theirs
