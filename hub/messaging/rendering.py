"""Business messages to bytes in a participant's format: ISO 20022 MX in the hub envelope (with a business
application header) or ISO 15022 MT (FIN)."""

import dataclasses
import datetime as dt
import functools
import secrets
import time
from dataclasses import dataclass

from django.conf import settings

from iso20022 import mx
from iso20022.models import BusinessHeader, Message
from iso20022.mt import build_mt, message_type_for, reference_fits
from iso20022.mt.settlement import NO_REFERENCE

XML = "application/xml"
FIN = "text/plain; charset=us-ascii"


@dataclass(frozen=True, slots=True)
class Rendered:
    payload: bytes
    content_type: str
    message_type: str


def business_message_id() -> str:
    """A fresh business message identifier of the hub (max 35 characters)."""
    return f"HUB{_utc_second(int(time.time()))}{secrets.token_hex(6).upper()}"


@functools.lru_cache(maxsize=2)
def _utc_second(epoch_second: int) -> str:
    """YYYYMMDDHHMMSS, formatted once a second rather than once a message (formatting is most of the
    cost of an identifier)."""
    return f"{dt.datetime.fromtimestamp(epoch_second, dt.UTC):%Y%m%d%H%M%S}"


_REFERENCES = ("transaction_id", "cancellation_request_reference")


def render(body: Message, *, receiver_bic: str, fmt: str, related_id: str | None = None) -> Rendered:
    if fmt == "MT":
        text = build_mt(_mt_references(body), sender=settings.HUB_BIC, receiver=receiver_bic)
        return Rendered(text.encode("ascii"), FIN, f"MT{message_type_for(body)}")
    message_id = mx.message_id_for(body)
    header = BusinessHeader(
        from_bic=settings.HUB_BIC,
        to_bic=receiver_bic,
        business_message_id=business_message_id(),
        message_definition_id=message_id,
        creation=dt.datetime.now(dt.UTC).replace(microsecond=0),
        related_business_message_id=related_id,
    )
    return Rendered(mx.build(body, header=header), XML, message_id)


def _mt_references(body: Message) -> Message:
    """``body`` with NONREF (SWIFT's "no reference") for each reference MT cannot carry. Only a refusal
    meets one: the hub refuses an instruction whose references its sender's MT statuses could not carry,
    and answers the refusal of an MX message (whose references may hold 35 characters) in MT when the
    sender takes MT."""
    unfit = {
        name: NO_REFERENCE
        for name in _REFERENCES
        if isinstance(getattr(body, name, None), str) and not reference_fits(getattr(body, name))
    }
    return dataclasses.replace(body, **unfit) if unfit else body
