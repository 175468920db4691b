"""Bulk files: many messages of one standard in one file, in order.

- ISO 20022 (MX): ``<BlkMsgs xmlns="urn:csd-hub:xsd:blk.001.01">`` holding the messages' root elements
  (hub envelopes ``Envlp`` or bare ``Document`` elements), in order.
- ISO 15022 (MT): FIN messages one after another, each from ``{1:``, optionally separated by ``$`` as in
  SWIFT batch files.

``join_*`` writes a bulk file from whole messages; ``split_*`` reads one back into whole messages, each
to be read as if it had come alone. A bulk file is read with the same hardened XML parser as single
messages (no DTD, no entities, a depth limit), with size and node limits fit for a batch
(``BULK_LIMITS``) and a limit on the number of messages; every refusal is a ``MalformedMessage``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lxml import etree

from iso20022.errors import MalformedMessage, MessageError, ReasonCode
from iso20022.mx.safexml import Limits, parse_xml

BULK_NAMESPACE = "urn:csd-hub:xsd:blk.001.01"
BULK_ROOT = f"{{{BULK_NAMESPACE}}}BlkMsgs"
MAX_MESSAGES = 1000
# one level more than a single message; some 100 elements and attributes a message for 10,000 messages (a
# sese.023 in its envelope makes about 50), which keeps the file's tree under about 210 MB
BULK_LIMITS = Limits(max_bytes=32 * 1024 * 1024, max_depth=42, max_nodes=1_000_000)

_XML_DECLARATION = re.compile(rb"^\s*(?:\xef\xbb\xbf)?\s*<\?xml[^>]*\?>\s*")
_ROOT_NAMESPACE = re.compile(rb"^<[A-Za-z_][\w.-]*\s[^>]*?\bxmlns\s*=")
_FIN_START = re.compile(rb"\{1:")
_FIN_SEPARATORS = b" \r\n\t$"


def _refuse(message: str) -> MalformedMessage:
    return MalformedMessage(MessageError(reason=ReasonCode.OTHER, message=message))


def _count(count: int, max_messages: int) -> None:
    if not count:
        raise _refuse("the bulk file holds no message")
    if count > max_messages:
        raise _refuse(f"{count} messages in one bulk file; at most {max_messages}")


def join_mx(messages: Sequence[bytes], *, max_messages: int = MAX_MESSAGES) -> bytes:
    """One MX bulk file from whole MX messages (each an XML document whose root element declares its own
    default namespace, as every ISO 20022 message and the hub envelope do)."""
    _count(len(messages), max_messages)
    bodies = []
    for n, message in enumerate(messages):
        body = _XML_DECLARATION.sub(b"", message, count=1).rstrip()
        if not _ROOT_NAMESPACE.match(body):
            raise _refuse(f"message {n} is not an XML element declaring its own default namespace")
        bodies.append(body)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<BlkMsgs xmlns="%s">\n' % BULK_NAMESPACE.encode()
        + b"\n".join(bodies)
        + b"\n</BlkMsgs>\n"
    )


def split_mx(data: bytes, *, limits: Limits = BULK_LIMITS, max_messages: int = MAX_MESSAGES) -> list[bytes]:
    """The messages of an MX bulk file, in order, each a standalone XML document."""
    root = parse_xml(data, limits)
    if root.tag != BULK_ROOT:
        raise _refuse(f"a bulk file of ISO 20022 messages has root {BULK_ROOT}, not {root.tag}")
    children = [child for child in root if isinstance(child.tag, str)]
    stray = [text for text in (root.text, *(child.tail for child in root)) if text and text.strip()]
    if stray:
        # another standard's message pasted between the elements would be lost without an answer
        raise _refuse(f"a bulk file holds text between its messages: {stray[0].strip()[:40]!r}")
    _count(len(children), max_messages)
    return [etree.tostring(child, encoding="UTF-8", xml_declaration=True) for child in children]


def join_mt(messages: Sequence[bytes], *, max_messages: int = MAX_MESSAGES) -> bytes:
    """One MT bulk file: the FIN messages one after another, separated by ``$``."""
    _count(len(messages), max_messages)
    bodies = [message.strip(_FIN_SEPARATORS) for message in messages]
    for n, body in enumerate(bodies):
        if not body.startswith(b"{1:") or _FIN_START.search(body, 1):
            raise _refuse(f"message {n} is not one FIN message starting with {{1:")
    return b"\r\n$".join(bodies) + b"\r\n"


def split_mt(
    data: bytes, *, max_bytes: int = BULK_LIMITS.max_bytes, max_messages: int = MAX_MESSAGES
) -> list[bytes]:
    """The FIN messages of an MT bulk file, in order (separators and surrounding blanks removed)."""
    if len(data) > max_bytes:
        raise _refuse(f"the bulk file is {len(data)} bytes, over the limit of {max_bytes} bytes")
    starts = [match.start() for match in _FIN_START.finditer(data)]
    if not starts or data[: starts[0]].strip(_FIN_SEPARATORS):
        raise _refuse("a bulk file of ISO 15022 messages is FIN messages one after another, each from {1:")
    _count(len(starts), max_messages)
    ends = [*starts[1:], len(data)]
    messages = [data[start:end].strip(_FIN_SEPARATORS) for start, end in zip(starts, ends, strict=True)]
    for n, message in enumerate(messages):
        # a FIN message ends with a block's closing brace, and FIN text holds no "$": anything after a
        # separator but the next message's {1: (an MX message pasted in) would be read as part of this
        # message, and lost without an answer of its own
        if b"$" in message or not message.endswith(b"}"):
            raise _refuse(f"message {n} of the bulk file is followed by something that is not a FIN message")
    return messages
