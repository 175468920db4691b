"""Small, fast helpers to read a validated MX tree and to write one.

Reading: ``Node`` wraps one element and indexes its children by local name once, so a parser reads
``node["QtyAndAcctDtls"]["SttlmQty"]`` without XPath or namespace bookkeeping. Parsers run only on trees
that passed the usage-guideline schema, so a missing mandatory element is a bug in the guideline, not
in the input; it is still reported as an ``InvalidContent`` error with its path, never a ``KeyError``.

Writing: ``Writer`` creates elements in one namespace; ``add`` skips ``None`` values so builders read as
the message they produce. ``TextWriter`` has the same methods but keeps elements as small lists and
writes them straight to bytes (``to_bytes``), the same bytes lxml would serialise, several times faster;
``mx.build`` uses it, ``Writer`` remains for callers that want an lxml element.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from lxml import etree

from iso20022.errors import InvalidContent, MessageError, reason_for_path


class Node:
    """One element of a parsed message, children indexed by local name.

    The index keeps one element per name (the schema allows one wherever ``[]`` / ``opt`` are used);
    repeated elements are read with ``all``. Paths for error reports are built only when asked for.
    """

    __slots__ = ("element", "_parent", "_name", "_children", "_ns")

    def __init__(self, element: etree._Element, ns: str, parent: Node | None, name: str):
        self.element = element
        self._ns = ns
        self._parent = parent
        self._name = name
        self._children: dict[str, etree._Element] | None = None

    @property
    def ns(self) -> str:
        """The ``{namespace}`` prefix of this message's tags."""
        return self._ns

    @property
    def path(self) -> str:
        """``/Document/SctiesSttlmTxInstr/TxId``: where this node is, by local names."""
        if self._parent is None:
            return self._name
        return f"{self._parent.path}/{self._name}"

    def _child(self, name: str) -> etree._Element | None:
        """The (first) child element called ``name``. ISO messages are mostly chains of one-child
        wrappers, so those are checked directly; others are indexed once. Comments and processing
        instructions were removed by the parser: every child is an element."""
        index = self._children
        if index is None:
            element = self.element
            if len(element) == 1:
                only = element[0]
                return only if only.tag == self._ns + name else None
            cut = len(self._ns)
            index = self._children = {child.tag[cut:]: child for child in reversed(element)}
        return index.get(name)

    def __contains__(self, name: str) -> bool:
        return self._child(name) is not None

    def opt(self, name: str) -> Node | None:
        found = self._child(name)
        return Node(found, self._ns, self, name) if found is not None else None

    def __getitem__(self, name: str) -> Node:
        found = self._child(name)
        if found is None:
            raise self.error(f"{name} is missing", path=f"{self.path}/{name}")
        return Node(found, self._ns, self, name)

    def all(self, name: str) -> list[Node]:
        return [Node(e, self._ns, self, name) for e in self.element.iterchildren(self._ns + name)]

    def choice(self) -> str:
        """The local name of the chosen element of an ISO ``...Choice``."""
        if len(self.element) == 0:
            raise self.error("a choice with no element")
        return self.element[0].tag[len(self._ns) :]

    def only_child(self) -> tuple[str, Node]:
        """The chosen element of an ISO ``...Choice``: its local name and node."""
        name = self.choice()
        return name, Node(self.element[0], self._ns, self, name)

    def text(self, name: str) -> str:
        found = self._child(name)
        if found is None:
            raise self.error(f"{name} is missing", path=f"{self.path}/{name}")
        value = found.text
        if value is None:
            raise self.error(f"{name} is empty", path=f"{self.path}/{name}")
        return value

    def opt_text(self, name: str) -> str | None:
        found = self._child(name)
        return found.text if found is not None else None

    def attr(self, name: str) -> str:
        value = self.element.get(name)
        if value is None:
            raise self.error(f"attribute {name} is missing")
        return value

    def decimal(self, name: str) -> Decimal:
        raw = self.text(name)
        try:
            return Decimal(raw.strip())
        except InvalidOperation:
            raise self.error(f"{name} is not a number: {raw!r}", path=f"{self.path}/{name}") from None

    def date(self, name: str) -> dt.date:
        raw = self.text(name)
        try:
            return dt.date.fromisoformat(raw.strip())
        except ValueError:
            raise self.error(f"{name} is not a date: {raw!r}", path=f"{self.path}/{name}") from None

    def datetime(self, name: str) -> dt.datetime:
        raw = self.text(name)
        try:
            return dt.datetime.fromisoformat(raw.strip())
        except ValueError:
            raise self.error(f"{name} is not a date and time: {raw!r}", path=f"{self.path}/{name}") from None

    def error(self, message: str, *, path: str | None = None) -> InvalidContent:
        where = path or self.path
        return InvalidContent(
            MessageError(
                reason=reason_for_path(where), message=message, line=self.element.sourceline, path=where
            )
        )


def top_node(element: etree._Element, path: str) -> Node:
    """The node of a message's top element (``AppHdr`` or e.g. ``SctiesSttlmTxInstr``) at ``path``."""
    tag = element.tag
    return Node(element, tag[: tag.index("}") + 1], None, path)


def decimal_text(value: Decimal) -> str:
    """A decimal as XML Schema writes it: plain notation, never an exponent."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".") or "0"
    return text


class Writer:
    """Creates the elements of one message namespace."""

    __slots__ = ("namespace", "_prefix")

    def __init__(self, namespace: str):
        self.namespace = namespace
        self._prefix = "{" + namespace + "}"

    def root(self, name: str) -> etree._Element:
        return etree.Element(self._prefix + name, nsmap={None: self.namespace})

    def add(
        self, parent: etree._Element, name: str, text: object = None, **attributes: str
    ) -> etree._Element:
        child = etree.SubElement(parent, self._prefix + name, attributes or None)
        if text is not None:
            child.text = _text(text)
        return child

    def opt(self, parent: etree._Element, name: str, text: object) -> etree._Element | None:
        """Add a leaf only when there is a value."""
        if text is None:
            return None
        return self.add(parent, name, text)

    def path(self, parent: etree._Element, names: str, text: object = None) -> etree._Element:
        """Add a chain of nested elements, ``"SttlmQty/Qty/Unit"``; the last one gets ``text``."""
        node = parent
        for name in names.split("/"):
            node = etree.SubElement(node, self._prefix + name)
        if text is not None:
            node.text = _text(text)
        return node


def _text(value: object) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


# ----------------------------------------------------------------------------------------- TextWriter

# What lxml refuses in text and attribute values: C0 controls other than tab, LF and CR, and characters
# outside the XML character range (U+FFFE, U+FFFF, lone surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NOT_XML_MESSAGE = "All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters"
# Any character text cannot carry as it is: those above, and the ones escaped (&, <, >, CR). Most values
# (identifiers, codes, dates, numbers) have none, and are written after this one search.
_NEEDS_ESCAPE = re.compile(
    "[^\t\n\x20-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
).search

TextElement = list
"""A branch being written by ``TextWriter``: ``[start tag, end tag, *children]``, each child the finished
text of a leaf or a branch of its own."""


def _escape_text(value: str) -> str:
    if _NEEDS_ESCAPE(value) is None:
        return value
    if _NOT_XML.search(value):
        raise ValueError(_NOT_XML_MESSAGE)
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


def _escape_attribute(value: str) -> str:
    value = _escape_text(value)
    return (
        value.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
        if '"' in value or "\n" in value or "\t" in value
        else value
    )


_PATH_LIMIT = 4096
_paths: dict[str, tuple[tuple[str, ...], str, str]] = {}


def _path_tags(names: str) -> tuple[tuple[str, ...], str, str]:
    """``"SttlmQty/Qty/Unit"``: its names, and the start and end tags of the whole chain
    (``<SttlmQty><Qty><Unit>``, ``</Unit></Qty></SttlmQty>``), worked out once per path."""
    found = _paths.get(names)
    if found is None:
        parts = tuple(names.split("/"))
        found = (parts, "".join(f"<{n}>" for n in parts), "".join(f"</{n}>" for n in reversed(parts)))
        if len(_paths) < _PATH_LIMIT:  # paths come from the builders' code, a few dozen in all
            _paths[names] = found
    return found


class TextWriter:
    """``Writer``'s methods over lightweight elements, serialised by ``to_text``.

    A leaf given its text is written at once, as the string it will be in the message, into its parent;
    it takes no children, and ``add`` / ``path`` return ``None`` for it (no builder adds under a leaf).
    Branches are plain lists of their children's text, joined once by ``to_text``. Text is checked and
    escaped when it is set, and refused with lxml's ``ValueError`` when XML cannot carry it.
    """

    __slots__ = ("namespace",)

    def __init__(self, namespace: str):
        self.namespace = namespace

    def root(self, name: str) -> TextElement:
        return [f"<{name}>", f"</{name}>"]

    def add(
        self, parent: TextElement, name: str, text: object = None, **attributes: str
    ) -> TextElement | None:
        if attributes:
            start = (
                "<" + name + "".join(f' {k}="{_escape_attribute(v)}"' for k, v in attributes.items()) + ">"
            )
        else:
            start = f"<{name}>"
        if text is None:
            child = [start, f"</{name}>"]
            parent.append(child)
            return child
        parent.append(f"{start}{_escape_text(_text(text))}</{name}>")
        return None

    def opt(self, parent: TextElement, name: str, text: object) -> None:
        """Add a leaf only when there is a value."""
        if text is not None:
            parent.append(f"<{name}>{_escape_text(_text(text))}</{name}>")

    def path(self, parent: TextElement, names: str, text: object = None) -> TextElement | None:
        parts, start, end = _path_tags(names)
        if text is not None:
            parent.append(start + _escape_text(_text(text)) + end)
            return None
        node = parent
        for name in parts:
            child = [f"<{name}>", f"</{name}>"]
            node.append(child)
            node = child
        return node

    def to_text(self, element: TextElement) -> str:
        """The element as XML text, declaring this writer's namespace as the default one."""
        out: list[str] = []
        _write(element, out, ' xmlns="' + _escape_attribute(self.namespace) + '"')
        return "".join(out)


XML_DECLARATION = b"<?xml version='1.0' encoding='UTF-8'?>\n"


def _write(element: TextElement, out: list[str], extra: str = "") -> None:
    start = element[0]
    if extra:
        start = start[:-1] + extra + ">"
    if len(element) == 2:  # no children: an empty element, as lxml writes it
        out.append(start[:-1] + "/>")
        return
    out.append(start)
    for child in element[2:]:
        if type(child) is str:
            out.append(child)
        else:
            _write(child, out)
    out.append(element[1])
