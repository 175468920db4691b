"""Bulk intake: many messages in one request, each answered exactly as if it had been sent alone, one
after another (``intake.messages_receive``: a few transactions and one matching task for the file).

ISO 20022 bulk file: ``<BlkMsgs xmlns="urn:csd-hub:xsd:blk.001.01">`` holding hub envelopes (``Envlp``)
or bare ``Document`` elements, in order. ISO 15022 bulk file: FIN messages one after another, optionally
separated by ``$`` as in SWIFT batch files. The file is read with the same hardened XML parser as single
messages (no DTD, no entities, depth limit), with a size limit fit for a batch.
"""

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from lxml import etree

from hub.messaging.models import InboundOutcome
from hub.messaging.services import inbound_answer, inbound_record
from hub.registry.models import Participant
from hub.settlement.intake import IntakeAnswer, message_format, messages_receive
from iso20022.errors import Iso20022Error
from iso20022.mx import Limits
from iso20022.mx.safexml import parse_xml

BULK_NAMESPACE = "urn:csd-hub:xsd:blk.001.01"
BULK_ROOT = f"{{{BULK_NAMESPACE}}}BlkMsgs"
_FIN_START = re.compile(rb"\{1:")


class BulkUnreadable(Exception):
    """The file cannot be split into messages: refused whole, each message unread."""


@dataclass
class BulkResult:
    http_status: int
    answers: list[IntakeAnswer] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict:
        if self.error:
            return {"detail": self.error}
        return {
            "count": len(self.answers),
            "results": [
                {
                    "index": i,
                    "http_status": a.http_status,
                    "outcome": a.outcome,
                    "reason_codes": list(a.reason_codes),
                    "message_id": a.inbound_id,
                    "content_type": a.content_type,
                    "answer": a.body.decode("utf-8"),
                }
                for i, a in enumerate(self.answers)
            ],
        }


def split_mx(raw: bytes) -> list[bytes]:
    try:
        root = parse_xml(raw, Limits(max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE, max_depth=42))
    except Iso20022Error as exc:
        raise BulkUnreadable(f"the bulk file is not acceptable XML: {exc}") from None
    if root.tag != BULK_ROOT:
        raise BulkUnreadable(f"a bulk file of ISO 20022 messages has root {{{BULK_NAMESPACE}}}BlkMsgs")
    parts = [
        etree.tostring(child, encoding="UTF-8", xml_declaration=True)
        for child in root
        if isinstance(child.tag, str)
    ]
    return parts


def split_mt(raw: bytes) -> list[bytes]:
    starts = [match.start() for match in _FIN_START.finditer(raw)]
    if not starts or raw[: starts[0]].strip(b" \r\n\t$"):
        raise BulkUnreadable(
            "a bulk file of ISO 15022 messages is FIN messages one after another, each from {1:"
        )
    ends = [*starts[1:], len(raw)]
    return [raw[start:end].strip(b" \r\n\t$") for start, end in zip(starts, ends, strict=True)]


def messages_receive_bulk(*, participant: Participant, raw: bytes, content_type: str) -> BulkResult:
    fmt = message_format(content_type, raw)
    try:
        parts = split_mx(raw) if fmt == "MX" else split_mt(raw)
        if not parts:
            raise BulkUnreadable("the bulk file holds no message")
        if len(parts) > settings.BULK_MAX_MESSAGES:
            raise BulkUnreadable(f"{len(parts)} messages in one file; at most {settings.BULK_MAX_MESSAGES}")
    except BulkUnreadable as exc:
        # kept for the audit trail like any message, with the reason it was refused
        inbound = inbound_record(sender=participant, raw=raw, fmt=fmt, content_type=content_type)
        with transaction.atomic():
            inbound_answer(
                message=inbound,
                outcome=InboundOutcome.REJECTED,
                http_status=400,
                response=b"",
                response_content_type="",
                detail=str(exc),
                message_type="bulk",
            )
        return BulkResult(http_status=400, error=str(exc))
    single_type = "application/xml" if fmt == "MX" else "text/plain"
    answers = messages_receive(participant=participant, raws=parts, content_type=single_type)
    return BulkResult(http_status=200, answers=answers)
