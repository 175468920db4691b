"""The ISO 20022 MX adapter (NSD's profile): each message in the hub envelope, with a business
application header (head.001.001.02) from the hub's BIC to the CSD's."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

from csd_adapters.messaging import MessagingAdapter
from iso20022 import bulk, mx
from iso20022 import models as m

_sequence = itertools.count(1)


class MxAdapter(MessagingAdapter):
    content_type = "application/xml"

    def encode(self, body: m.Message) -> bytes:
        header = m.BusinessHeader(
            from_bic=self.hub_bic,
            to_bic=self.profile.bic,
            business_message_id=f"{body.transaction_id}-{next(_sequence)}"[:35],
            message_definition_id=mx.message_id_for(body),
            creation=dt.datetime.now(dt.UTC).replace(microsecond=0),
        )
        return mx.build(body, header=header)

    def decode(self, data: bytes) -> m.Message:
        return mx.parse(data).body

    def join(self, messages: Sequence[bytes]) -> bytes:
        return bulk.join_mx(messages)
