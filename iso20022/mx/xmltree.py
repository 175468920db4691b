"""Small, fast helpers to read a validated MX tree and to write one.

Reading: ``Node`` wraps one element and indexes its children by local name once, so a parser reads
``node["QtyAndAcctDtls"]["SttlmQty"]`` without XPath or namespace bookkeeping. Parsers run only on trees
that passed the usage-guideline schema, so a missing mandatory element is a bug in the guideline, not
in the input; it is still reported as an ``InvalidContent`` error with its path, never a ``KeyError``.

Writing: ``Writer`` creates elements in one namespace; ``add`` skips ``None`` values so builders read as
the message they produce.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from lxml import etree

from iso20022.errors import InvalidContent, MessageError, reason_for_path


class Node:
    """One element of a parsed message, children indexed by local name."""

    __slots__ = ("element", "path", "_children", "_nslen")

    def __init__(self, element: etree._Element, path: str, nslen: int):
        self.element = element
        self.path = path
        self._nslen = nslen
        children: dict[str, list[etree._Element]] = {}
        for child in element:
            tag = child.tag
            if type(tag) is str:
                children.setdefault(tag[nslen:], []).append(child)
        self._children = children

    def __contains__(self, name: str) -> bool:
        return name in self._children

    def opt(self, name: str) -> Node | None:
        found = self._children.get(name)
        return Node(found[0], f"{self.path}/{name}", self._nslen) if found else None

    def __getitem__(self, name: str) -> Node:
        found = self._children.get(name)
        if not found:
            raise self.error(f"{name} is missing", path=f"{self.path}/{name}")
        return Node(found[0], f"{self.path}/{name}", self._nslen)

    def all(self, name: str) -> list[Node]:
        return [Node(e, f"{self.path}/{name}", self._nslen) for e in self._children.get(name, ())]

    def only_child(self) -> tuple[str, Node]:
        """The chosen element of an ISO ``...Choice``: its local name and node."""
        for name, elements in self._children.items():
            return name, Node(elements[0], f"{self.path}/{name}", self._nslen)
        raise self.error("a choice with no element")

    def text(self, name: str) -> str:
        value = self[name].element.text
        if value is None:
            raise self.error(f"{name} is empty", path=f"{self.path}/{name}")
        return value

    def opt_text(self, name: str) -> str | None:
        found = self._children.get(name)
        return found[0].text if found else None

    @property
    def value(self) -> str:
        value = self.element.text
        if value is None:
            raise self.error("empty element")
        return value

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


def root_node(document: etree._Element, body: etree._Element) -> Node:
    """The node of a Document's message element (e.g. ``SctiesSttlmTxInstr``)."""
    nslen = len(body.tag) - len(etree.QName(body).localname)
    return Node(body, f"/Document/{etree.QName(body).localname}", nslen)


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
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)
