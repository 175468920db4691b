"""The two ways the reference CSD speaks: ISO 20022 MX or ISO 15022 MT, per its profile.

A dialect only reads requests into the shared models and writes replies from them, through the
``iso20022`` library; what a message means to the ledger is decided in ``service``.
"""

from __future__ import annotations

import datetime as dt
import itertools

from csd_adapters.profiles import Standard
from iso20022 import models as m
from iso20022 import mx
from iso20022.mt import build_mt, parse_fin, read_message

_sequence = itertools.count(1)


class MxDialect:
    standard = Standard.MX
    content_type = "application/xml"

    def __init__(self, bic: str) -> None:
        self.bic = bic

    def read(self, data: bytes) -> tuple[m.Message, str | None, str | None]:
        """(body, sender BIC, sender's business message id) of an inbound message."""
        message = mx.parse(data)
        header = message.header
        return (
            message.body,
            header.from_bic if header else None,
            header.business_message_id if header else None,
        )

    def write(self, body: m.Message, *, to_bic: str | None, related: str | None) -> bytes:
        if to_bic is None:
            return mx.build(body)
        header = m.BusinessHeader(
            from_bic=self.bic,
            to_bic=to_bic,
            business_message_id=f"{self.bic[:8]}-{next(_sequence)}",
            message_definition_id=mx.message_id_for(body),
            creation=dt.datetime.now(dt.UTC).replace(microsecond=0),
            related_business_message_id=related,
        )
        return mx.build(body, header=header)


class MtDialect:
    standard = Standard.MT
    content_type = "text/plain; charset=utf-8"

    def __init__(self, bic: str) -> None:
        self.bic = bic

    def read(self, data: bytes) -> tuple[m.Message, str | None, str | None]:
        fin = parse_fin(data)
        return read_message(fin), fin.sender, None

    def write(self, body: m.Message, *, to_bic: str | None, related: str | None) -> bytes:
        return build_mt(body, sender=self.bic, receiver=to_bic or "XXXXXXXX").encode()


def dialect_for(standard: Standard, bic: str) -> MxDialect | MtDialect:
    return MxDialect(bic) if standard is Standard.MX else MtDialect(bic)
