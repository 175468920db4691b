"""Bulk intake: many messages in one request, each answered exactly as if it had been sent alone, one
after another (``intake.messages_receive``: a few transactions and one matching task for the file).

ISO 20022 bulk file: ``<BlkMsgs xmlns="urn:csd-hub:xsd:blk.001.01">`` holding hub envelopes (``Envlp``)
or bare ``Document`` elements, in order. ISO 15022 bulk file: FIN messages one after another, optionally
separated by ``$`` as in SWIFT batch files. The file is read with the same hardened XML parser as single
messages (no DTD, no entities, depth limit), with the size and node limits of the message layer's bulk
files (``iso20022.bulk.BULK_LIMITS``: 32 MiB, a million elements and attributes).
"""

import dataclasses
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from hub.messaging.models import InboundOutcome
from hub.messaging.services import inbound_answer, inbound_record
from hub.registry.models import Participant
from hub.settlement.intake import IntakeAnswer, message_format, messages_receive
from iso20022 import bulk
from iso20022.errors import Iso20022Error

BULK_NAMESPACE = bulk.BULK_NAMESPACE


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


def bulk_max_bytes() -> int:
    """The largest bulk file: the message layer's limit (``iso20022.bulk.BULK_LIMITS``), or
    ``API_MAX_REQUEST_BYTES`` where that is lower."""
    return min(bulk.BULK_LIMITS.max_bytes, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def _split(fmt: str, raw: bytes) -> list[bytes]:
    """The file's messages, within the message layer's bulk limits (bytes, depth, elements and attributes)
    and the hub's (``API_MAX_REQUEST_BYTES``, ``BULK_MAX_MESSAGES``)."""
    limit = bulk_max_bytes()
    try:
        if fmt == "MX":
            return bulk.split_mx(
                raw,
                limits=dataclasses.replace(bulk.BULK_LIMITS, max_bytes=limit),
                max_messages=settings.BULK_MAX_MESSAGES,
            )
        return bulk.split_mt(raw, max_bytes=limit, max_messages=settings.BULK_MAX_MESSAGES)
    except Iso20022Error as exc:
        raise BulkUnreadable(f"the bulk file is refused whole: {exc}") from None


def messages_receive_bulk(*, participant: Participant, raw: bytes, content_type: str) -> BulkResult:
    fmt = message_format(content_type, raw)
    try:
        parts = _split(fmt, raw)
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
