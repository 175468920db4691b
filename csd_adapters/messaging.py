"""What both message-standard adapters share: legs as CSD messages, replies as outcomes or errors.

A leg maps onto the CSD's own instructions (ARCHITECTURE.md section 4), all under the leg's wire
reference (``Leg.reference``):

- prepare: intra-position movement AVAI -> BLOK on the debit account (semt.013 / MT524); the CSD
  confirms it (semt.015 / MT508) or answers a status (semt.014 / MT508 with a status sequence).
- commit: free-of-payment delivery from the debit account to the credit account: one sese.023 naming
  both accounts (MX), confirmed by sese.025, refused by sese.024; or, for a CSD that matches the two
  sides (MT), MT540 (receive free, into the credit account; answered by an MT548 "unmatched") then MT542
  (deliver free, from the debit account), the one completing the match confirmed by MT546 (or MT544),
  refused by MT548. A replayed commit sends both again and gets the confirmations again.
- abort: intra-position movement BLOK -> AVAI (semt.013 / MT524).

A status carrying a pending reason ``LACK`` or ``BLOC``, or a rejection reason, becomes the named
``AdapterError``; a reply that does not answer the request (another reference, another message) is a
``ProtocolError``. When the CSD replies twice, both replies must say the same.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
import time
from dataclasses import replace

from csd_adapters.base import (
    REFERENCE_LENGTH,
    AdapterError,
    CsdAdapter,
    Endorsement,
    Health,
    Holdings,
    Leg,
    LegOutcome,
    LegState,
    Movement,
    Position,
    ProtocolError,
    Transactions,
    refusal_for,
)
from csd_adapters.profiles import CsdProfile, profile_for
from csd_adapters.transport import HttpTransport, Observer, RetryPolicy, Transport
from iso20022 import models as m
from iso20022.errors import Iso20022Error

DEFAULT_HUB_BIC = "CSDHUBZZ"  # demo BIC of the hub as account operator


class MessagingAdapter(CsdAdapter):
    """Base of the MX and MT adapters: subclasses say how to write and read one message."""

    content_type = "application/octet-stream"

    def __init__(
        self,
        *,
        profile: CsdProfile | str,
        base_url: str | None = None,
        transport: Transport | None = None,
        hub_bic: str = DEFAULT_HUB_BIC,
        connect_timeout: float = 2.0,
        read_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.profile = profile_for(profile) if isinstance(profile, str) else profile
        if transport is None:
            if base_url is None:
                raise ValueError("an adapter needs the CSD's base_url or a transport")
            transport = HttpTransport(
                base_url,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retry=retry,
                observer=observer,
            )
        self.transport = transport
        self.hub_bic = hub_bic

    # ------------------------------------------------------------------------------ for subclasses

    @abc.abstractmethod
    def encode(self, body: m.Message) -> bytes:
        """The message on the wire in this adapter's standard."""

    @abc.abstractmethod
    def decode(self, data: bytes) -> m.Message:
        """The business content of a reply in this adapter's standard."""

    # ------------------------------------------------------------------------------------------ legs

    def prepare(self, leg: Leg) -> LegOutcome:
        return self._movement(leg, m.SubBalance.AVAILABLE, m.SubBalance.BLOCKED, LegState.PREPARED)

    def abort(self, leg: Leg) -> LegOutcome:
        return self._movement(leg, m.SubBalance.BLOCKED, m.SubBalance.AVAILABLE, LegState.ABORTED)

    commit_sides: tuple[m.Side, ...] = (m.Side.DELIVER,)
    """The instructions a commit sends, in order: the deliverer's alone (already matched), or both sides
    for a CSD that matches them (MT: MT540 then MT542)."""

    def commit(self, leg: Leg) -> LegOutcome:
        outcome = None
        for side in self.commit_sides:
            own, other = (
                (leg.debit_account, leg.credit_account)
                if side is m.Side.DELIVER
                else (leg.credit_account, leg.debit_account)
            )
            instruction = m.SettlementInstruction(
                transaction_id=leg.reference,
                side=side,
                payment=m.Payment.FREE,
                trade_date=leg.intended_settlement_date,
                intended_settlement_date=leg.intended_settlement_date,
                security=m.Security(isin=leg.isin),
                quantity=_quantity(leg),
                safekeeping_account=own,
                account_owner_bic=self.hub_bic,
                counterparty=m.Counterparty(
                    bic=self.hub_bic, csd_bic=self.profile.bic, safekeeping_account=other
                ),
                own_csd_bic=self.profile.bic,
                common_trade_reference=_short(leg.transfer_reference),
            )
            replies = self._exchange(instruction, leg)
            if all(isinstance(r, m.SettlementConfirmation) for r in replies):
                outcome = _agree(
                    leg,
                    [
                        LegOutcome(
                            leg_id=leg.leg_id,
                            state=LegState.COMMITTED,
                            csd_reference=r.account_servicer_transaction_id,
                            settlement_date=r.effective_settlement_date,
                        )
                        for r in replies
                    ],
                )
            elif not all(_awaiting_counterparty(r) for r in replies):
                raise _refusal(replies, leg)
        if outcome is None:
            raise ProtocolError(f"leg {leg.leg_id}: the CSD settled none of the commit's instructions")
        return outcome

    def _movement(self, leg: Leg, source: m.SubBalance, target: m.SubBalance, state: LegState) -> LegOutcome:
        movement = m.IntraPositionMovement(
            transaction_id=leg.reference,
            security=m.Security(isin=leg.isin),
            quantity=_quantity(leg),
            settlement_date=leg.intended_settlement_date,
            from_balance=source,
            to_balance=target,
            safekeeping_account=leg.debit_account,
            linked_reference=_short(leg.transfer_reference),
        )
        replies = self._exchange(movement, leg)
        if all(isinstance(r, m.IntraPositionConfirmation) for r in replies):
            for r in replies:
                if (r.from_balance, r.to_balance) != (source, target):
                    raise ProtocolError(
                        f"leg {leg.leg_id}: the CSD confirmed {r.from_balance} -> {r.to_balance}"
                    )
            return _agree(
                leg,
                [
                    LegOutcome(
                        leg_id=leg.leg_id,
                        state=state,
                        csd_reference=r.account_servicer_transaction_id,
                        settlement_date=r.settlement_date,
                    )
                    for r in replies
                ],
            )
        raise _refusal(replies, leg)

    def _exchange(self, body: m.Message, leg: Leg) -> list[m.Message]:
        if leg.csd != self.profile.code:
            raise ValueError(
                f"leg {leg.leg_id} is at {leg.csd}, but this adapter speaks to {self.profile.code}"
            )
        reply = self.transport.request(
            "POST", "/messages", body=self.encode(body), content_type=self.content_type
        )
        replies = [self._decode(part) for part in reply.parts]
        for r in replies:
            if r.transaction_id != leg.reference:
                raise ProtocolError(
                    f"leg {leg.leg_id}: the reply is about {r.transaction_id}, not {leg.reference}"
                )
        return replies

    def _decode(self, data: bytes) -> m.Message:
        try:
            return self.decode(data)
        except Iso20022Error as exc:
            raise ProtocolError(f"unreadable reply from {self.profile.code}: {exc}") from exc

    # ------------------------------------------------------------------------------------ statements

    def holdings(self, *, account: str, as_of: dt.date) -> Holdings:
        reply = self.transport.request(
            "GET",
            "/statements/holdings",
            params={"account": account, "date": as_of.isoformat(), "bic": self.hub_bic},
        )
        statement = self._single(reply.parts, m.HoldingsStatement)
        if statement.safekeeping_account != account or statement.statement_date != as_of:
            raise ProtocolError(
                f"asked for {account} at {as_of}, got {statement.safekeeping_account} "
                f"at {statement.statement_date}"
            )
        positions = []
        for b in statement.balances:
            blocked = b.not_available if b.not_available is not None else b.blocked
            available = b.available if b.available is not None else b.aggregate - blocked
            if available + blocked != b.aggregate:
                raise ProtocolError(
                    f"{b.security.isin}: available {available} + blocked {blocked} "
                    f"is not the aggregate {b.aggregate}"
                )
            positions.append(Position(isin=b.security.isin, available=available, blocked=blocked))
        return Holdings(account=account, as_of=as_of, positions=tuple(positions))

    def transactions(self, *, account: str, since: dt.date, until: dt.date) -> Transactions:
        reply = self.transport.request(
            "GET",
            "/statements/transactions",
            params={
                "account": account,
                "since": since.isoformat(),
                "until": until.isoformat(),
                "bic": self.hub_bic,
            },
        )
        statement = self._single(reply.parts, m.TransactionsStatement)
        if statement.safekeeping_account != account:
            raise ProtocolError(f"asked for {account}, got {statement.safekeeping_account}")
        return Transactions(
            account=account,
            since=since,
            until=until,
            movements=tuple(
                Movement(
                    reference=mv.transaction_id,
                    isin=mv.security.isin,
                    quantity=mv.quantity.amount,
                    credit=mv.credit_debit is m.CreditDebit.CREDIT,
                    settlement_date=mv.settlement_date,
                    csd_reference=mv.account_servicer_transaction_id,
                )
                for mv in statement.movements
            ),
        )

    def _single(self, parts: tuple[bytes, ...], kind: type):
        bodies = [self._decode(part) for part in parts]
        if not bodies or any(
            not isinstance(b, kind) or b != replace(bodies[0], statement_id=b.statement_id) for b in bodies
        ):
            raise ProtocolError(f"expected one {kind.__name__} from {self.profile.code}")
        return bodies[0]

    # ------------------------------------------------------------------------------- keys and health

    def endorse(self, header: bytes) -> Endorsement:
        reply = self.transport.request("POST", "/endorse", body=header)
        try:
            answer = json.loads(reply.parts[0])
            return Endorsement(signature=bytes.fromhex(answer["signature"]), key_id=answer["key_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(f"unreadable endorsement from {self.profile.code}") from exc

    def health(self) -> Health:
        started = time.monotonic()
        try:
            reply = self.transport.request("GET", "/health")
            detail = json.loads(reply.parts[0]).get("status", "?")
            ok = detail == "ok"
        except (AdapterError, ValueError) as exc:
            ok, detail = False, str(exc)
        return Health(ok=ok, detail=detail, latency_ms=(time.monotonic() - started) * 1000)


def _quantity(leg: Leg) -> m.Quantity:
    return m.Quantity(
        amount=leg.quantity, type=m.QuantityType.FACE_AMOUNT if leg.face_amount else m.QuantityType.UNIT
    )


def _short(reference: str) -> str | None:
    """A transfer reference is sent along only when it fits the MT field (16 characters)."""
    return reference if 0 < len(reference) <= REFERENCE_LENGTH and "/" not in reference else None


def _agree(leg: Leg, outcomes: list[LegOutcome]) -> LegOutcome:
    if any(o != outcomes[0] for o in outcomes):
        raise ProtocolError(f"leg {leg.leg_id}: the CSD's replies disagree: {outcomes}")
    return outcomes[0]


def _awaiting_counterparty(reply: m.Message) -> bool:
    """An instruction accepted but not yet matched: the other side's instruction is still to come."""
    return (
        isinstance(reply, m.StatusAdvice)
        and reply.matching is not None
        and reply.matching.code is m.MatchingStatusCode.UNMATCHED
        and (reply.processing is None or reply.processing.code is m.ProcessingStatusCode.ACCEPTED)
    )


def _refusal(replies: list[m.Message], leg: Leg) -> AdapterError:
    """The error a status reply stands for (the first reason of the first status found)."""
    for r in replies:
        for status in (getattr(r, "processing", None), getattr(r, "settlement", None)):
            if status is not None and status.reasons:
                reason = status.reasons[0]
                return refusal_for(reason.code, f"{leg.leg_id}: {reason.narrative or reason.code}")
    kinds = ", ".join(type(r).__name__ for r in replies)
    return ProtocolError(f"leg {leg.leg_id}: unexpected reply {kinds}")
