"""The ISO 15022 MT adapter (Strate's profile): SWIFT FIN messages from the hub's BIC to the CSD's."""

from __future__ import annotations

from collections.abc import Sequence

from csd_adapters.base import ProtocolError
from csd_adapters.messaging import MessagingAdapter
from iso20022 import bulk
from iso20022 import models as m
from iso20022.mt import build_mt, parse_mt


class MtAdapter(MessagingAdapter):
    content_type = "text/plain; charset=utf-8"
    commit_sides = (m.Side.RECEIVE, m.Side.DELIVER)  # MT540, then MT542 completes the match

    def encode(self, body: m.Message) -> bytes:
        return build_mt(body, sender=self.hub_bic, receiver=self.profile.bic).encode()

    def decode(self, data: bytes) -> m.Message:
        body = parse_mt(data)
        if not isinstance(body, m.Message.__args__):
            raise ProtocolError(f"an MT reply without a business model: MT{body.message_type}")
        return body

    def join(self, messages: Sequence[bytes]) -> bytes:
        return bulk.join_mt(messages)
