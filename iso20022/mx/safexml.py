"""Hardened XML reading: the only way bytes from outside become an lxml tree.

Defences, in the order they run (cheapest first):

1. size limit on the raw bytes, and a limit on the elements and attributes they can make, counted in the
   bytes before any tree is built (a flood of tiny elements costs some 130 bytes of memory each);
2. UTF-8 only: a UTF-16/32 byte order mark or an XML declaration naming another encoding is refused, and
   libxml2 refuses any byte sequence that is not UTF-8;
3. any ``<!DOCTYPE`` is refused before parsing, so no DTD, no internal or external entity (billion
   laughs, XXE) ever reaches the parser; ISO 20022 messages never carry one;
4. the parser itself resolves no entities, loads no DTD, touches no network, refuses huge trees and
   does not recover from errors (truncated input fails with the line where it ended);
5. a depth limit on the element tree, checked with one precompiled XPath.

Every refusal is a ``MalformedMessage`` whose ``MessageError`` says why, with line and path when known;
whatever lxml or libxml2 raises (a syntax error, a limit of its own) becomes one too.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from lxml import etree

from iso20022.errors import MalformedMessage, MessageError, ReasonCode


@dataclass(frozen=True, slots=True)
class Limits:
    """What the hub accepts: ``max_bytes`` of input, ``max_depth`` element levels (root = 1), and
    ``max_nodes`` elements and attributes together.

    The deepest ISO 20022 message the hub reads nests 14 levels (semt.002 balances); 40 leaves room for
    an envelope and future versions while refusing nesting attacks long before libxml2's own limit.
    The densest message the hub reads, a semt.002 with sub-balances, spends some 17 bytes a node: 400,000
    nodes let a statement fill ``max_bytes`` and keep the tree of any input under about 85 MB.
    """

    max_bytes: int = 5 * 1024 * 1024
    max_depth: int = 40
    max_nodes: int = 400_000


DEFAULT_LIMITS = Limits()

_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_NAMESPACE_IN_TEXT = re.compile(r"\{[^}]*\}")
_FOREIGN_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")

_local = threading.local()


def _parser() -> etree.XMLParser:
    """One hardened parser per thread (lxml parsers must not be shared between threads)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            recover=False,
            remove_blank_text=True,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def _refuse(message: str, *, line: int | None = None, path: str | None = None) -> MalformedMessage:
    return MalformedMessage(MessageError(reason=ReasonCode.OTHER, message=message, line=line, path=path))


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _too_deep(max_depth: int) -> etree.XPath:
    """The first element below ``max_depth`` levels, as a compiled XPath (one per thread and depth)."""
    compiled = getattr(_local, "depth_checks", None)
    if compiled is None:
        compiled = _local.depth_checks = {}
    check = compiled.get(max_depth)
    if check is None:
        check = compiled[max_depth] = etree.XPath("/*" + "/*" * max_depth + "[1]")
    return check


def most_nodes(data: bytes) -> int:
    """At most how many elements and attributes ``data`` makes, counted in the bytes at memchr's speed: an
    element starts with ``<`` not followed by ``/`` (a comment, processing instruction or CDATA section
    counts too), and an attribute needs an ``=`` (so does some text). No DTD reaches the parser, so no
    entity adds any."""
    return data.count(b"<") - data.count(b"</") + data.count(b"=")


def local_path(element: etree._Element) -> str:
    """``/Document/SctiesSttlmTxInstr/TxId``: the element's path by local names, for error reports."""
    parts = []
    node = element
    while node is not None:
        tag = node.tag
        parts.append(tag[tag.find("}") + 1 :] if isinstance(tag, str) else etree.QName(node).localname)
        node = node.getparent()
    return "/" + "/".join(reversed(parts))


def strip_namespaces(text: str) -> str:
    """Error texts from libxml2 name elements as ``{urn:...}Name``; participants read ``Name``."""
    return _NAMESPACE_IN_TEXT.sub("", text)


def parse_xml(data: bytes, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Parse untrusted bytes into an element tree, or raise ``MalformedMessage``."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > limits.max_bytes:
        raise _refuse(f"message is {len(data)} bytes, over the limit of {limits.max_bytes} bytes")
    if not data.strip():
        raise _refuse("message is empty")
    if data.startswith(_FOREIGN_BOMS) or b"\x00" in data[:4]:
        raise _refuse(
            "message is not UTF-8 (UTF-16 or UTF-32 byte order mark); only UTF-8 is accepted", line=1
        )
    head = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    declared = _DECLARED_ENCODING.match(head[:300])
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        encoding = declared.group(1).decode("ascii")
        raise _refuse(f"message declares encoding {encoding}; only UTF-8 is accepted", line=1)
    doctype = data.find(b"<!DOCTYPE")
    if doctype >= 0:
        raise _refuse(
            "a DOCTYPE is not allowed (no DTD, no entities) in an ISO 20022 message",
            line=_line_of(data, doctype),
        )
    nodes = most_nodes(data)
    if nodes > limits.max_nodes:
        raise _refuse(
            f"message has up to {nodes} elements and attributes, over the limit of {limits.max_nodes}"
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        text = strip_namespaces(str(exc.msg or exc))
        if "UTF-8" in text or "encoding" in text.lower():
            text = f"message is not valid UTF-8: {text}"
        else:
            text = f"message is not well-formed XML: {text}"
        raise _refuse(text, line=line) from None
    except etree.Error as exc:  # any other refusal of libxml2's, a limit of its own say
        raise _refuse(f"message could not be read: {strip_namespaces(str(exc))}") from None
    try:
        too_deep = _too_deep(limits.max_depth)(root)
    except etree.Error as exc:  # libxml2 caps an XPath node-set (10,000,000 nodes)
        raise _refuse(f"message could not be read: {strip_namespaces(str(exc))}") from None
    if too_deep:
        element = too_deep[0]
        raise _refuse(
            f"elements nest deeper than {limits.max_depth} levels",
            line=element.sourceline,
            path=local_path(element)[:300],
        )
    return root
