"""Turn a refused message into the status advice that tells its sender why (sese.024 / MT548 REJT).

try:
    message = mx.parse(raw)
except Iso20022Error as exc:
    advice = rejection_advice(exc, transaction_id=mx_references(raw).transaction_id)
    outbound = mx.build(advice)

``mx_references`` and ``mt_references`` read what a refused message says of itself (its transaction id,
its business message id), so that the refusal names the message it refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from iso20022.errors import Iso20022Error, MessageError
from iso20022.models import ProcessingStatus, ProcessingStatusCode, Reason, StatusAdvice
from iso20022.mt.fields import FieldFormatError, parse_field
from iso20022.mt.fin import parse_fin
from iso20022.mx.safexml import DEFAULT_LIMITS, Limits, parse_xml

NO_REFERENCE = "NONREF"
_NARRATIVE_LIMIT = 210
_MAX_REASONS = 5
_MAX_REFERENCE = 35  # Max35Text: a transaction id, a business message id


@dataclass(frozen=True, slots=True)
class References:
    """What a refused message says of itself, read on a best-effort basis so that its refusal can name it:
    the account owner's transaction id (``TxId``; MT ``:20C::SEME``) and the business message id
    (``AppHdr/BizMsgIdr``). ``None`` where the message has none that can be read, or one that would not
    fit where a refusal repeats it (a Max35Text)."""

    transaction_id: str | None = None
    business_message_id: str | None = None


def mx_references(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> References:
    """The references of an MX message that may be invalid (a bare ``Document`` or the hub envelope), by
    local names, whatever the namespaces say: a version the hub does not read still names its own. A
    sese.023 carries its ``TxId`` at the top of the body; a sese.020 under ``AcctOwnrTxId``."""
    try:
        root = parse_xml(data, limits)
    except Iso20022Error:
        return References()
    header, document = None, None
    if _local(root) == "Document":
        document = root
    elif _local(root) == "Envlp":
        header, document = _child(root, "AppHdr"), _child(root, "Document")
    body = (
        next((child for child in document if isinstance(child.tag, str)), None)
        if document is not None
        else None
    )
    return References(
        transaction_id=_reference(body, "TxId")
        or _reference(body, "AcctOwnrTxId", "SctiesSttlmTxId", "TxId"),
        business_message_id=_reference(header, "BizMsgIdr"),
    )


def mt_references(data: str | bytes) -> References:
    """The references of an MT message that may be invalid: the sender's reference (``:20C::SEME`` of
    GENL), from the block 4 tree when the FIN syntax reads, else from the first ``:20C::SEME//`` line of
    block 4 that reads as that field (a bad field elsewhere, an impossible date say, leaves it readable)."""
    try:
        genl = parse_fin(data).text.sequence("GENL")
    except Iso20022Error:
        seme = _seme_line(data)
    else:
        seme = genl.value("20C", "SEME") if genl is not None else None
    return References(transaction_id=seme if isinstance(seme, str) and _fits(seme) else None)


_SEME_LINE = re.compile(r"^:20C:(:SEME//[^\r\n]*)\r?$", re.MULTILINE)


def _seme_line(data: str | bytes) -> str | None:
    text = data.decode("ascii", errors="replace") if isinstance(data, bytes | bytearray) else data
    start = text.find("{4:")
    found = _SEME_LINE.search(text, start) if start >= 0 else None
    if found is None:
        return None
    try:
        return parse_field("20C", found.group(1)).value
    except FieldFormatError:
        return None


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _child(element: etree._Element | None, name: str) -> etree._Element | None:
    if element is None:
        return None
    return next((child for child in element if _local(child) == name), None)


def _reference(element: etree._Element | None, *path: str) -> str | None:
    for name in path:
        element = _child(element, name)
    if element is None or len(element) or not element.text or not _fits(element.text):
        return None
    return element.text


def _fits(reference: str) -> bool:
    return 0 < len(reference) <= _MAX_REFERENCE and not reference.isspace()


def rejection_reasons(errors: tuple[MessageError, ...]) -> tuple[Reason, ...]:
    """One ISO reason per error (at most five), the narrative saying what and where, cut to 210 chars."""
    return tuple(
        Reason(code=error.reason.value, narrative=_cut(str(error))) for error in errors[:_MAX_REASONS]
    )


def rejection_advice(
    error: Iso20022Error,
    *,
    transaction_id: str | None = None,
    account_servicer_transaction_id: str | None = None,
) -> StatusAdvice:
    """A processing status REJECTED with the error's reason codes; ``NONREF`` when the sender's reference
    could not be read."""
    return StatusAdvice(
        transaction_id=transaction_id or NO_REFERENCE,
        account_servicer_transaction_id=account_servicer_transaction_id,
        processing=ProcessingStatus(
            code=ProcessingStatusCode.REJECTED, reasons=rejection_reasons(error.errors)
        ),
    )


def _cut(text: str) -> str:
    return text if len(text) <= _NARRATIVE_LIMIT else text[: _NARRATIVE_LIMIT - 3] + "..."
