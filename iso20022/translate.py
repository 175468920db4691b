"""ISO 15022 MT <-> ISO 20022 MX, through the shared models.

An MT is parsed into its model (``iso20022.mt``) and the model built as MX (``iso20022.mx``), or
the other way round, so what is translated is exactly what both mappings carry; the table of fields is
``iso20022/MAPPING.md``.

Pairs: MT540-543 <-> sese.023 (and, with ``:23G:CANC``, sese.020); MT544-547 <-> sese.025; MT548 <->
sese.024 (with ``:23G:CAST``, sese.027); MT535 <-> semt.002; MT536 <-> semt.017; MT524 <-> semt.013;
MT508 <-> semt.015 (and, with a status, semt.014). MT537 has no counterpart in the hub's MX set.

Envelopes: MT -> MX writes the hub envelope (``AppHdr`` + ``Document``): ``Fr``/``To`` from blocks 1/2,
``BizMsgIdr`` from the MUR of block 3 (``{108:}``) or else ``:20C::SEME``. MX -> MT takes the sender and
receiver BICs from the ``AppHdr`` (when there is one) and puts a ``BizMsgIdr`` that fits 16 SWIFT
characters in the MUR, so the header identifier survives MX -> MT -> MX.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from iso20022 import mx
from iso20022.errors import MalformedMessage, MessageError, ReasonCode, UnsupportedMessage
from iso20022.models import BusinessHeader, Message
from iso20022.mt import build_mt, message_type_for, parse_fin, read_message
from iso20022.mt.fin import FinMessage

MT = "MT"
MX = "MX"
_MUR = re.compile(r"^[A-Za-z0-9/\-?().,'+ ]{1,16}$")


@dataclass(frozen=True, slots=True)
class Translated:
    """The result of a translation: the output text and what it is (``MT548``, ``sese.024.001.12``)."""

    content: bytes
    message: str
    source_message: str


def detect(data: bytes | str) -> str:
    """``MT`` for FIN text (``{1:...``), ``MX`` for XML; ``MalformedMessage`` for anything else."""
    head = (data.encode("latin-1", "replace") if isinstance(data, str) else data)[:512]
    head = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"{1:") or head.startswith(b"{2:"):
        return MT
    if head.startswith(b"<"):
        return MX
    raise MalformedMessage(
        MessageError(
            reason=ReasonCode.OTHER,
            line=1,
            message="neither a FIN message (starting with {1:) nor an XML document (starting with <)",
        )
    )


def mt_to_mx(data: bytes | str, *, creation: dt.datetime | None = None) -> Translated:
    fin = parse_fin(data)
    model = read_message(fin)
    if isinstance(model, FinMessage):
        raise UnsupportedMessage(
            MessageError(
                reason=ReasonCode.UNSUPPORTED,
                line=1,
                path="2",
                message=f"MT{fin.message_type} has no counterpart in the hub's ISO 20022 message set",
            )
        )
    message_id = mx.message_id_for(model)
    header = BusinessHeader(
        from_bic=fin.sender,
        to_bic=fin.receiver,
        business_message_id=_business_id(fin),
        message_definition_id=message_id,
        creation=creation or dt.datetime.now(dt.UTC).replace(microsecond=0),
    )
    return Translated(mx.build(model, header=header), message_id, f"MT{fin.message_type}")


def _business_id(fin: FinMessage) -> str:
    user_reference = dict(fin.user).get("108")
    if user_reference:
        return user_reference
    genl = fin.text.sequence("GENL")
    reference = genl.value("20C", "SEME") if genl else None
    return str(reference or f"MT{fin.message_type}")


def mx_to_mt(data: bytes) -> Translated:
    parsed = mx.parse(data)
    return Translated(_mt_bytes(parsed.body, parsed.header), _mt_type(parsed.body), parsed.message_id)


def _mt_bytes(model: Message, header: BusinessHeader | None) -> bytes:
    user = ()
    sender = receiver = None
    if header is not None:
        sender, receiver = header.from_bic, header.to_bic
        if _MUR.match(header.business_message_id):
            user = (("108", header.business_message_id),)
    return build_mt(model, sender=sender, receiver=receiver, user=user).encode("ascii")


def _mt_type(model: Message) -> str:
    return f"MT{message_type_for(model)}"


def translate(data: bytes) -> Translated:
    """MT in: MX out; MX in: MT out."""
    return mt_to_mx(data) if detect(data) == MT else mx_to_mt(data)
