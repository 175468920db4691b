"""The ISO 15022 MT adapter (Strate's profile): SWIFT FIN messages from the hub's BIC to the CSD's."""

from __future__ import annotations

from collections.abc import Sequence

from csd_adapters.base import Leg, LegNotExpressible, ProtocolError
from csd_adapters.messaging import MessagingAdapter, leg_quantity
from iso20022 import bulk
from iso20022 import models as m
from iso20022.mt import account_fits, build_mt, parse_mt, quantity_fits


class MtAdapter(MessagingAdapter):
    content_type = "text/plain; charset=utf-8"
    commit_sides = (m.Side.RECEIVE, m.Side.DELIVER)  # MT540, then MT542 completes the match

    def encode(self, body: m.Message) -> bytes:
        return build_mt(body, sender=self.hub_bic, receiver=self.profile.bic).encode()

    def _expressible(self, leg: Leg) -> None:
        """An MT524 carries the debit account alone; the commit's MT540 and MT542 carry both accounts and
        a quantity with at most five decimals (MX carries up to six)."""
        for account in (leg.debit_account, leg.credit_account):
            if not account_fits(account):
                raise LegNotExpressible(f"leg {leg.leg_id}: account {account!r} cannot travel in an MT field")
        if not quantity_fits(leg_quantity(leg)):
            raise LegNotExpressible(
                f"leg {leg.leg_id}: quantity {leg.quantity} cannot travel in an MT540-543"
            )

    def decode(self, data: bytes) -> m.Message:
        body = parse_mt(data)
        if not isinstance(body, m.Message.__args__):
            raise ProtocolError(f"an MT reply without a business model: MT{body.message_type}")
        return body

    def join(self, messages: Sequence[bytes]) -> bytes:
        return bulk.join_mt(messages)
