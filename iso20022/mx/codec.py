"""Reading and writing whole MX messages: a bare ``Document`` or the hub envelope.

The hub envelope carries a business application header and its document in one XML document::

    <Envlp xmlns="urn:csd-hub:xsd:envlp.001.01">
      <AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">...</AppHdr>
      <Document xmlns="urn:iso:std:iso:20022:tech:xsd:sese.023.001.11">...</Document>
    </Envlp>

(schema: ``iso20022/schemas/envelope.001.01.xsd``). Exactly one ``AppHdr`` then one ``Document``; the
header's ``MsgDefIdr`` must name the document's message. A bare ``Document`` is read the same way,
without a header. The message type and version come from the ``Document`` namespace alone.

``parse`` runs: hardened XML parsing -> type and version detection -> usage-guideline validation ->
extraction into the model (``fast`` for the plain messages of the leg path, the message's own reader
for the rest). Every refusal raises an ``Iso20022Error`` subclass carrying ``MessageError``
values (reason code, line, path).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from iso20022.errors import (
    Iso20022Error,
    MessageError,
    ReasonCode,
    SchemaViolation,
    UnsupportedMessage,
)
from iso20022.models import BusinessHeader, Message
from iso20022.mx import fast, head, registry
from iso20022.mx.safexml import DEFAULT_LIMITS, Limits, local_path, parse_xml
from iso20022.mx.schemas import guideline, schema_errors
from iso20022.mx.xmltree import XML_DECLARATION, Node, TextWriter, Writer, top_node

ENVELOPE_NAMESPACE = "urn:csd-hub:xsd:envlp.001.01"
ENVELOPE_ROOT = "Envlp"

_ENVELOPE_TAG = "{%s}%s" % (ENVELOPE_NAMESPACE, ENVELOPE_ROOT)  # noqa: UP031
_ENVELOPE_START = f'<{ENVELOPE_ROOT} xmlns="{ENVELOPE_NAMESPACE}">'
_ENVELOPE_END = f"</{ENVELOPE_ROOT}>"


@dataclass(frozen=True, slots=True)
class MxMessage:
    """A parsed MX message: its definition (``sese.023.001.11``), business content and header."""

    message_id: str
    body: Message
    header: BusinessHeader | None = None


def parse(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> MxMessage:
    """Read an inbound MX message (bare Document or hub envelope) into its model."""
    root = parse_xml(data, limits)
    header_element, document = _split(root)
    header = None
    if header_element is not None:
        header_version = registry.accepted(header_element.tag, header=True) or registry.for_namespace(
            etree.QName(header_element).namespace,
            header=True,
            path=local_path(header_element),
            line=header_element.sourceline,
        )
        _validate(header_version, header_element)
        header = fast.read_header(header_element) or head.parse(_node(header_element))
    version = registry.accepted(document.tag) or registry.for_namespace(
        etree.QName(document).namespace, path=local_path(document), line=document.sourceline
    )
    _validate(version, document)
    if header is not None and header.message_definition_id != version.message_id:
        raise UnsupportedMessage(
            MessageError(
                reason=ReasonCode.UNSUPPORTED,
                message=f"AppHdr MsgDefIdr {header.message_definition_id} does not match the Document "
                f"({version.message_id})",
                line=header_element.sourceline,
                path=local_path(header_element) + "/MsgDefIdr",
            )
        )
    business_message_id = header.business_message_id if header is not None else None
    body = fast.read_body(version.message_id, document[0], business_message_id) or version.codec.parse(
        _node(document[0]), business_message_id
    )
    return MxMessage(message_id=version.message_id, body=body, header=header)


def validate(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> tuple[MessageError, ...]:
    """Every problem ``parse`` finds with ``data``; empty when the message is acceptable."""
    try:
        parse(data, limits=limits)
    except Iso20022Error as exc:
        return exc.errors
    return ()


def build(body: Message, *, header: BusinessHeader | None = None, message_id: str | None = None) -> bytes:
    """Write ``body`` as UTF-8 XML: a bare Document, or the hub envelope when a ``header`` is given.

    Written with ``TextWriter``: the same bytes as the lxml tree of ``build_document`` serialised
    (``tests/iso20022/test_mx_text_writer.py``). Outbound messages are not validated here, each time:
    the tests prove every message the builders write validates against the hub's schemas and the
    official ones; what the hub reads is always validated (``parse``).

    The header's ``message_definition_id`` must be the message built (``build_header`` fills it in).
    """
    version = registry.for_model(body, message_id)
    w = TextWriter(version.namespace)
    document = w.root("Document")
    version.codec.build(w, w.add(document, version.root), body)
    if header is None:
        return XML_DECLARATION + w.to_text(document).encode()
    if header.message_definition_id != version.message_id:
        raise UnsupportedMessage(
            MessageError(
                reason=ReasonCode.UNSUPPORTED,
                message=f"header MsgDefIdr {header.message_definition_id} does not match {version.message_id}",
                path="AppHdr/MsgDefIdr",
            )
        )
    header_writer = TextWriter(registry.HEADER_VERSIONS[0].namespace)
    return (
        XML_DECLARATION
        + (
            _ENVELOPE_START
            + header_writer.to_text(head.build(header_writer, header))
            + w.to_text(document)
            + _ENVELOPE_END
        ).encode()
    )


def build_document(body: Message, *, message_id: str | None = None) -> etree._Element:
    """The ``Document`` element for ``body`` (for callers that embed it themselves)."""
    return _build_document(registry.for_model(body, message_id), body)


def message_id_for(body: Message) -> str:
    """The message definition the hub sends ``body`` as, e.g. ``sese.024.001.12``."""
    return registry.for_model(body).message_id


def _build_document(version: registry.MessageVersion, body: Message) -> etree._Element:
    w = Writer(version.namespace)
    document = w.root("Document")
    version.codec.build(w, w.add(document, version.root), body)
    return document


def _split(root: etree._Element) -> tuple[etree._Element | None, etree._Element]:
    tag = root.tag
    if tag == _ENVELOPE_TAG:
        if len(root) == 2:  # the usual envelope, recognised without building names
            header, document = root
            header_tag, document_tag = header.tag, document.tag
            if (
                isinstance(header_tag, str)
                and header_tag.endswith("}AppHdr")
                and isinstance(document_tag, str)
                and document_tag.endswith("}Document")
                and not (root.text and root.text.strip())
                and not (header.tail and header.tail.strip())
                and not (document.tail and document.tail.strip())
            ):
                return header, document
        children = [child for child in root if isinstance(child.tag, str)]
        names = [etree.QName(child).localname for child in children]
        if names != ["AppHdr", "Document"]:
            raise SchemaViolation(
                MessageError(
                    reason=ReasonCode.OTHER,
                    message=f"the envelope must hold exactly AppHdr then Document, found {', '.join(names) or 'nothing'}",
                    line=root.sourceline,
                    path="/" + ENVELOPE_ROOT,
                )
            )
        if root.text and root.text.strip() or any(c.tail and c.tail.strip() for c in children):
            raise SchemaViolation(
                MessageError(
                    reason=ReasonCode.OTHER,
                    message="text outside AppHdr and Document",
                    line=root.sourceline,
                    path="/" + ENVELOPE_ROOT,
                )
            )
        return children[0], children[1]
    qname = etree.QName(root)
    if qname.localname == "Document":
        return None, root
    if qname.localname == "AppHdr":
        message = (
            f"an AppHdr alone is not a message: send it with its Document inside {ENVELOPE_ROOT} "
            f"({ENVELOPE_NAMESPACE})"
        )
    else:
        message = (
            f"root element {qname.localname} (namespace {qname.namespace!r}) is neither an ISO 20022 Document "
            f"nor the hub envelope {ENVELOPE_ROOT} ({ENVELOPE_NAMESPACE})"
        )
    raise UnsupportedMessage(
        MessageError(
            reason=ReasonCode.UNSUPPORTED, message=message, line=root.sourceline, path=local_path(root)
        )
    )


def _validate(version: registry.MessageVersion, element: etree._Element) -> None:
    errors = schema_errors(guideline(version.guideline), element)
    if errors:
        raise SchemaViolation(errors)


def _node(element: etree._Element) -> Node:
    return top_node(element, local_path(element))
