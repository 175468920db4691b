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

Batches (``prepare_many``, ``commit_many``, ``abort_many``) send the same messages in bulk files
(``iso20022.bulk``, ``POST /messages/bulk``), at most ``batch_size`` messages a file, and read each leg's
replies, found by its reference, exactly as a single leg's: each operation is written once, as steps that
send a message and read its replies, and either driver runs them. A commit that sends two instructions
(MT) sends every leg's first instruction in one round of bulk files, then the second instruction of
the legs still waiting for their match in the next, as a single commit stops at a refusal. Each reply
part is read on its own, so that one the hub cannot read is the error of its own leg only; an answer about
the exchange as a whole that says nothing sure of the legs (a reply about transactions never sent, an HTTP
server error other than the transient ones) refuses no leg and is ``OutcomeUnknown``, transient. A request
the CSD turned away whole with an HTTP client error (400, 403, 404 ...: ``RequestNotProcessed``) applied
nothing: a permanent error of every leg in it, as a 422 is a refusal of every leg in it; but a bulk file
turned away for what is in it (400, a message the CSD cannot read; 413) goes again in halves, down to the
message the CSD turns away on its own, so that one leg holds up no other.

Statements (semt.002 / MT535, semt.017 / MT536) are read only when they are the whole answer to the
request: the account and day asked for, one page, complete (``COMP``) and of settled positions (``SETT``);
a statement of transactions must cover the period asked for, and each of its movements settle within it.
Anything else is a ``ProtocolError``, so the hub never reconciles against part of an account's books.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Sequence
from dataclasses import replace

from csd_adapters.base import (
    REFERENCE_LENGTH,
    AdapterError,
    CsdAdapter,
    Endorsement,
    Health,
    Holdings,
    Leg,
    LegNotExpressible,
    LegOutcome,
    LegResult,
    LegState,
    MessageRejected,
    Movement,
    OutcomeUnknown,
    Position,
    ProtocolError,
    RequestNotProcessed,
    Transactions,
    refusal_for,
)
from csd_adapters.profiles import CsdProfile, profile_for
from csd_adapters.transport import HttpTransport, Observer, Reply, RetryPolicy, Transport
from iso20022 import bulk
from iso20022 import models as m
from iso20022.errors import Iso20022Error

DEFAULT_HUB_BIC = "CSDHUBZZ"  # demo BIC of the hub as account operator
DEFAULT_BATCH_SIZE = 500
# a bulk file the CSD turns away whole for what is in it (400: a message it cannot read, as the reference
# CSD answers a file it reads before applying any; 413: too large) goes again in halves, down to the message
# it turns away on its own, so that one leg the CSD cannot read holds up no other leg of its file
SPLIT_STATUSES = frozenset({400, 413})

Steps = Generator[m.Message, list[m.Message], LegOutcome]
"""One leg operation: yields each message to send, is sent that message's replies, returns the outcome
or raises the refusal."""


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
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """``batch_size``: the most messages one bulk file carries (1 to ``bulk.MAX_MESSAGES``); a bulk
        file is one request under the same ``read_timeout``, so keep it small enough to be answered in
        time."""
        if not 1 <= batch_size <= bulk.MAX_MESSAGES:
            raise ValueError(f"batch_size must be from 1 to {bulk.MAX_MESSAGES}, not {batch_size}")
        self.batch_size = batch_size
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

    @abc.abstractmethod
    def join(self, messages: Sequence[bytes]) -> bytes:
        """One bulk file of encoded messages, in this adapter's standard."""

    # ------------------------------------------------------------------------------------------ legs

    def prepare(self, leg: Leg) -> LegOutcome:
        return self._run(leg, self._prepare_steps(leg))

    def abort(self, leg: Leg) -> LegOutcome:
        return self._run(leg, self._abort_steps(leg))

    def commit(self, leg: Leg) -> LegOutcome:
        return self._run(leg, self._commit_steps(leg))

    def prepare_many(self, legs: Sequence[Leg]) -> list[LegResult]:
        return self._run_many(legs, self._prepare_steps)

    def commit_many(self, legs: Sequence[Leg]) -> list[LegResult]:
        return self._run_many(legs, self._commit_steps)

    def abort_many(self, legs: Sequence[Leg]) -> list[LegResult]:
        return self._run_many(legs, self._abort_steps)

    def _prepare_steps(self, leg: Leg) -> Steps:
        return self._movement_steps(leg, m.SubBalance.AVAILABLE, m.SubBalance.BLOCKED, LegState.PREPARED)

    def _abort_steps(self, leg: Leg) -> Steps:
        return self._movement_steps(leg, m.SubBalance.BLOCKED, m.SubBalance.AVAILABLE, LegState.ABORTED)

    commit_sides: tuple[m.Side, ...] = (m.Side.DELIVER,)
    """The instructions a commit sends, in order: the deliverer's alone (already matched), or both sides
    for a CSD that matches them (MT: MT540 then MT542)."""

    def _commit_steps(self, leg: Leg) -> Steps:
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
                quantity=leg_quantity(leg),
                safekeeping_account=own,
                account_owner_bic=self.hub_bic,
                counterparty=m.Counterparty(
                    bic=self.hub_bic, csd_bic=self.profile.bic, safekeeping_account=other
                ),
                own_csd_bic=self.profile.bic,
                common_trade_reference=_short(leg.transfer_reference),
            )
            replies = yield instruction
            if all(isinstance(r, m.SettlementConfirmation) for r in replies):
                for r in replies:
                    _confirms(leg, r, leg.debit_account if r.side is m.Side.DELIVER else leg.credit_account)
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

    def _expressible(self, leg: Leg) -> None:
        """Raise ``LegNotExpressible`` when a message of the leg's commit could not be written in this
        standard: checked before the leg is reserved, so that it is refused before the anchor rather than
        stuck after it."""

    def _movement_steps(self, leg: Leg, source: m.SubBalance, target: m.SubBalance, state: LegState) -> Steps:
        if state is LegState.PREPARED:
            self._expressible(leg)
        movement = m.IntraPositionMovement(
            transaction_id=leg.reference,
            security=m.Security(isin=leg.isin),
            quantity=leg_quantity(leg),
            settlement_date=leg.intended_settlement_date,
            from_balance=source,
            to_balance=target,
            safekeeping_account=leg.debit_account,
            linked_reference=_short(leg.transfer_reference),
        )
        replies = yield movement
        if all(isinstance(r, m.IntraPositionConfirmation) for r in replies):
            for r in replies:
                if (r.from_balance, r.to_balance) != (source, target):
                    raise ProtocolError(
                        f"leg {leg.leg_id}: the CSD confirmed {r.from_balance} -> {r.to_balance}"
                    )
                _confirms(leg, r, leg.debit_account)
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

    # ------------------------------------------------------------------------ running the steps

    def _run(self, leg: Leg, steps: Steps) -> LegOutcome:
        """One leg: each message in its own exchange (``POST /messages``)."""
        self._check_csd(leg)
        try:
            message = next(steps)
            while True:
                reply = self._exchange("/messages", self._encode(leg, message))
                by_reference, unreadable = self._replies(reply.parts)
                if unreadable:
                    raise unreadable[0]
                replies = by_reference.get(leg.reference, [])
                if len(replies) != len(reply.parts):
                    raise ProtocolError(f"leg {leg.leg_id}: a reply is about another transaction")
                message = steps.send(replies)
        except StopIteration as done:
            return done.value
        finally:
            steps.close()

    def _run_many(self, legs: Sequence[Leg], steps_for: Callable[[Leg], Steps]) -> list[LegResult]:
        """Many legs in rounds: each round sends the next message of every leg still running, in bulk
        files; each leg's replies are sent back into its steps. A refusal ends its own leg; a transient
        failure ends the batch, raised."""
        for leg in legs:
            self._check_csd(leg)
        results: list[LegResult | None] = [None] * len(legs)

        def advance(
            index: int, steps: Steps, replies: list[m.Message] | AdapterError | None, running: list
        ) -> None:
            """Send ``replies`` into the leg's steps: its next message joins ``running``, or its
            outcome or refusal is its result (``replies`` is the permanent error of the leg's exchange:
            its reply unreadable, its message refused or turned away)."""
            try:
                if isinstance(replies, AdapterError):
                    raise replies
                if replies == []:
                    raise ProtocolError(f"leg {legs[index].leg_id}: the CSD's bulk reply says nothing of it")
                message = next(steps) if replies is None else steps.send(replies)
                data = self._encode(legs[index], message)
            except StopIteration as done:
                results[index] = LegResult(leg_id=legs[index].leg_id, outcome=done.value)
            except AdapterError as exc:
                if not exc.permanent:
                    raise
                steps.close()
                results[index] = LegResult(leg_id=legs[index].leg_id, error=exc)
            else:
                running.append((index, steps, data))

        running: list[tuple[int, Steps, bytes]] = []
        for index, leg in enumerate(legs):
            advance(index, steps_for(leg), None, running)
        while running:
            this_round, running = running, []
            for chunk in self._chunks(this_round, legs):
                replies = self._exchange_many([(legs[i], data) for i, _, data in chunk])
                for (index, steps, _), leg_replies in zip(chunk, replies, strict=True):
                    advance(index, steps, leg_replies, running)
        return results  # type: ignore[return-value]  # every leg has its result once none runs

    def _chunks(self, waiting: list[tuple[int, Steps, bytes]], legs: Sequence[Leg]):
        """The round's messages in bulk files of at most ``batch_size``, a leg's reference at most once
        a file (a leg given twice is sent twice, the second time as a replay)."""
        chunk: list[tuple[int, Steps, bytes]] = []
        references: set[str] = set()
        for item in waiting:
            reference = legs[item[0]].reference
            if len(chunk) == self.batch_size or reference in references:
                yield chunk
                chunk, references = [], set()
            chunk.append(item)
            references.add(reference)
        if chunk:
            yield chunk

    def _exchange_many(self, messages: list[tuple[Leg, bytes]]) -> list[list[m.Message] | AdapterError]:
        """One bulk file of messages (one per leg, references all different, each already written) and
        each one's replies, or the permanent error of a leg whose exchange ended without them.

        A file the CSD refuses whole for a rule (422) is a refusal of every leg in it, and so is one it
        turns away whole with any other client error (``RequestNotProcessed``: nothing applied), but for a
        file it turns away for what is in it (``SPLIT_STATUSES``): each half goes again on its own, down
        to the single message it turns away, whose leg that error is; one such leg costs at most two
        requests per halving, 2 log2 of the file's size in all. A reply part that cannot be read is laid
        on the legs the reply says nothing else of (one of them owns it): the others' replies are read
        as they are. A reply that cannot be taken leg by leg (about transactions never sent, or with an
        unreadable part when every leg has a reply besides) is ``OutcomeUnknown``: the CSD may have
        applied any of the legs, and refused none."""
        try:
            reply = self._exchange("/messages/bulk", self.join([data for _, data in messages]))
        except RequestNotProcessed as exc:
            if len(messages) > 1 and exc.status in SPLIT_STATUSES:
                half = len(messages) // 2
                return self._exchange_many(messages[:half]) + self._exchange_many(messages[half:])
            return [exc] * len(messages)
        except MessageRejected as exc:
            return [exc] * len(messages)
        by_reference, unreadable = self._replies(reply.parts)
        unknown = set(by_reference) - {leg.reference for leg, _ in messages}
        if unknown:
            raise OutcomeUnknown(f"the bulk reply is about transactions never sent: {sorted(unknown)[:5]}")
        answers: list[list[m.Message] | AdapterError] = [
            by_reference.get(leg.reference, []) for leg, _ in messages
        ]
        if unreadable:
            silent = [index for index, replies in enumerate(answers) if not replies]
            if not silent:
                raise OutcomeUnknown(f"a part of the bulk reply no leg can be told to own: {unreadable[0]}")
            for index in silent:
                answers[index] = ProtocolError(f"leg {messages[index][0].leg_id}: {unreadable[0]}")
        return answers

    def _exchange(self, path: str, body: bytes) -> Reply:
        """One exchange of leg messages. A request the CSD turned away whole (``RequestNotProcessed``: an
        HTTP client error such as 400 for a file it cannot read or 404 for a path it does not serve, or a
        request that could not be sent) applied nothing, and sending it again gets the same answer: a
        permanent error of every leg in it. An answer that is no reply to it (a server error other than
        the transient ones, a multipart body that cannot be split) says nothing of what became of the
        legs: ``OutcomeUnknown``, retried like a CSD that is down."""
        try:
            return self.transport.request("POST", path, body=body, content_type=self.content_type)
        except RequestNotProcessed:
            raise
        except ProtocolError as exc:
            raise OutcomeUnknown(str(exc)) from exc

    def _replies(self, parts: tuple[bytes, ...]) -> tuple[dict[str, list[m.Message]], list[ProtocolError]]:
        """The replies in ``parts`` by the transaction they are about, each part read on its own, and the
        error of each part that could not be read."""
        by_reference: dict[str, list[m.Message]] = defaultdict(list)
        unreadable = []
        for part in parts:
            try:
                reply = self._decode(part)
            except ProtocolError as exc:
                unreadable.append(exc)
                continue
            by_reference[reply.transaction_id].append(reply)
        return by_reference, unreadable

    def _check_csd(self, leg: Leg) -> None:
        if leg.csd != self.profile.code:
            raise ValueError(
                f"leg {leg.leg_id} is at {leg.csd}, but this adapter speaks to {self.profile.code}"
            )

    def _encode(self, leg: Leg, message: m.Message) -> bytes:
        try:
            return self.encode(message)
        except Iso20022Error as exc:
            raise LegNotExpressible(f"leg {leg.leg_id}: {exc}") from exc

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
        _whole(statement)
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
            positions.append(
                Position(
                    isin=b.security.isin,
                    available=available,
                    blocked=blocked,
                    face_amount=b.quantity_type is m.QuantityType.FACE_AMOUNT,
                )
            )
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
        _whole(statement)
        if statement.safekeeping_account != account:
            raise ProtocolError(f"asked for {account}, got {statement.safekeeping_account}")
        if statement.period_start > since or statement.period_end < until:
            raise ProtocolError(
                f"asked for the movements of {account} from {since} to {until}, got a statement of "
                f"{statement.period_start} to {statement.period_end}"
            )
        outside = [mv for mv in statement.movements if not since <= mv.settlement_date <= until]
        if outside:
            raise ProtocolError(
                f"asked for the movements of {account} from {since} to {until}, got "
                f"{outside[0].transaction_id} settled on {outside[0].settlement_date}"
            )
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
                    face_amount=mv.quantity.type is m.QuantityType.FACE_AMOUNT,
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
            if not isinstance(answer.get("key_id"), str):
                raise TypeError("key_id is not a string")
            return Endorsement(signature=bytes.fromhex(answer["signature"]), key_id=answer["key_id"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProtocolError(f"unreadable endorsement from {self.profile.code}") from exc

    def health(self) -> Health:
        started = time.monotonic()
        try:
            reply = self.transport.request("GET", "/health")
            answer = json.loads(reply.parts[0])
            detail = (
                answer.get("status", "?")
                if isinstance(answer, dict)
                else f"not a JSON object: {answer!r}"[:200]
            )
            ok = detail == "ok"
        except (AdapterError, ValueError) as exc:
            ok, detail = False, str(exc)
        return Health(ok=ok, detail=detail, latency_ms=(time.monotonic() - started) * 1000)


def _whole(statement: m.HoldingsStatement | m.TransactionsStatement) -> None:
    """A statement the hub reconciles with is the whole of it, or it is not read at all: one page (page 1
    and the last; the hub asks for no further pages), a complete statement (``COMP``; a delta, ``DELT``,
    holds only what changed since the previous one) of settled positions (``SETT``; a traded or
    contractual basis counts what has not settled yet)."""
    what = f"{type(statement).__name__} {statement.statement_id or ''} of {statement.safekeeping_account}"
    if statement.page_number != 1 or not statement.last_page:
        more = "" if statement.last_page else ", more to follow"
        raise ProtocolError(
            f"{what} is page {statement.page_number}{more}: only a one-page statement is read"
        )
    if statement.update_type != "COMP":
        raise ProtocolError(f"{what} is not complete (update type {statement.update_type}, not COMP)")
    if statement.basis != "SETT":
        raise ProtocolError(f"{what} is not of settled positions (basis {statement.basis}, not SETT)")


def leg_quantity(leg: Leg) -> m.Quantity:
    return m.Quantity(
        amount=leg.quantity, type=m.QuantityType.FACE_AMOUNT if leg.face_amount else m.QuantityType.UNIT
    )


def _short(reference: str) -> str | None:
    """A transfer reference is sent along only when it fits the MT field (16 characters)."""
    return reference if 0 < len(reference) <= REFERENCE_LENGTH and "/" not in reference else None


def _confirms(leg: Leg, reply: m.IntraPositionConfirmation | m.SettlementConfirmation, account: str) -> None:
    """A confirmation must be of the leg's security, quantity and account: a CSD that settled part of it
    (or another movement under its reference) has not done what the leg asks."""
    quantity = leg_quantity(leg)
    if (reply.security.isin, reply.settled_quantity, reply.safekeeping_account) != (
        leg.isin,
        quantity,
        account,
    ):
        raise ProtocolError(
            f"leg {leg.leg_id}: the CSD confirmed {reply.settled_quantity.amount} "
            f"{reply.settled_quantity.type} of {reply.security.isin} on {reply.safekeeping_account}, not "
            f"{quantity.amount} {quantity.type} of {leg.isin} on {account}"
        )


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
