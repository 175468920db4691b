"""The participant message intake: raw messages in, one answer out for each.

Every message is stored raw first (the audit trail keeps it whatever happens), then read by the message
layer, then handed to the settlement services. The answer is a sese.024 status advice (MT548 for an MT
sender), or a sese.027 for a cancellation request. A message seen before, by (sender, business message
id) or by (sender, account owner's transaction id) of an accepted instruction, is answered with the
original answer and creates nothing; the unique constraints behind those keys make a concurrent
duplicate lose the race the same way.

HTTP status of the answer: 202 instruction accepted; 200 cancellation request processed (its sese.027
says how); 400 the message is unreadable, invalid against the schema or of an unsupported type; 422 it is
readable but refused by a business rule (unknown ISIN, account of another participant, same CSD on both
sides...). A replay gets the original status.

Messages come one at a time or many from one sender (a bulk file): either way each is answered exactly
as if it had been sent alone, one after another, but a batch is handled with set-based reads and writes
in a few transactions, and one matching task for all the instructions it accepted.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction

from hub.messaging.models import InboundMessage, InboundOutcome, ReplayKey
from hub.messaging.rendering import FIN, XML, render
from hub.messaging.services import (
    InboundAnswer,
    Outgoing,
    inbound_answer_many,
    inbound_record_many,
    outbound_enqueue_many,
)
from hub.registry.models import Participant, bic8
from hub.rows import rows_append
from hub.settlement import errors, notifications, services
from hub.settlement.models import Instruction
from hub.settlement.statuses import InstructionStatus
from iso20022 import models as m
from iso20022 import mx
from iso20022.errors import Iso20022Error, MessageError, ReasonCode, UnsupportedMessage
from iso20022.mt import FinMessage, build_mt, message_type_for, parse_fin, read_message
from iso20022.mt.fin import MAX_MESSAGE_CHARS
from iso20022.rejection import References, mt_references, mx_references

MX_TYPES = ("application/xml", "text/xml")
MT_TYPES = ("text/plain",)
INTAKE_BATCH = 500  # messages handled in one transaction


@dataclass(frozen=True, slots=True)
class IntakeAnswer:
    """What the hub answers; plain ``str`` values only, as WSGI servers require for headers."""

    http_status: int
    body: bytes
    content_type: str
    outcome: str
    reason_codes: tuple[str, ...]
    inbound_id: int


@dataclass(frozen=True, slots=True)
class _Parsed:
    fmt: str
    message_type: str
    body: m.Message
    business_message_id: str | None


def message_max_bytes(content_type: str) -> int:
    """The largest body one message can be, as its content type says (the parsers' own limits: 5 MiB of
    ISO 20022, 2,000,000 characters of FIN), within ``API_MAX_REQUEST_BYTES``. A type that says neither
    is read to its first byte, so the larger limit holds until the parser's own applies."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in MT_TYPES:
        limit = MAX_MESSAGE_CHARS  # FIN is ASCII: a character a byte
    elif media in MX_TYPES or media.endswith("+xml"):
        limit = mx.DEFAULT_LIMITS.max_bytes
    else:
        limit = max(mx.DEFAULT_LIMITS.max_bytes, MAX_MESSAGE_CHARS)
    return min(limit, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def message_format(content_type: str, raw: bytes) -> str:
    """MX or MT from the content type; from the first character when the type says neither."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in MX_TYPES or media.endswith("+xml"):
        return "MX"
    if media in MT_TYPES:
        return "MT"
    return "MT" if raw.lstrip()[:1] == b"{" else "MX"


def _parse(fmt: str, raw: bytes, participant: Participant) -> _Parsed:
    """The message read, sent by ``participant`` to the hub: the sender its header names (MT block 1, or
    the sender block 2 names in an output message; MX ``AppHdr/Fr``) is the caller, and the receiver (MT
    block 2; MX ``AppHdr/To``) is the hub (``HUB_BIC``); otherwise it is refused (``ICUS``)."""
    if fmt == "MT":
        fin = parse_fin(raw)
        _parties_check(fin.sender, fin.receiver, participant, sender_at="1", receiver_at="2")
        body = read_message(fin)
        if isinstance(body, FinMessage):
            raise UnsupportedMessage(
                MessageError(
                    reason=ReasonCode.UNSUPPORTED,
                    path="2",
                    message=f"MT{body.message_type} is not an instruction",
                )
            )
        return _Parsed("MT", f"MT{message_type_for(body)}", body, None)
    message = mx.parse(raw)
    if message.header is not None:
        header = message.header
        _parties_check(
            header.from_bic, header.to_bic, participant, sender_at="AppHdr/Fr", receiver_at="AppHdr/To"
        )
    bmi = message.header.business_message_id if message.header else None
    return _Parsed("MX", message.message_id, message.body, bmi)


def _parties_check(
    sender: str, receiver: str, participant: Participant, *, sender_at: str, receiver_at: str
) -> None:
    if bic8(sender) != bic8(participant.bic):
        raise UnsupportedMessage(
            MessageError(
                reason=ReasonCode.PARTY,
                path=sender_at,
                message=f"the header's sender {sender} is not the caller {participant.bic}",
            )
        )
    if bic8(receiver) != bic8(settings.HUB_BIC):
        raise UnsupportedMessage(
            MessageError(
                reason=ReasonCode.PARTY,
                path=receiver_at,
                message=f"the header's receiver {receiver} is not the hub {settings.HUB_BIC}",
            )
        )


def message_receive(*, participant: Participant, raw: bytes, content_type: str) -> IntakeAnswer:
    (answer,) = messages_receive(participant=participant, raws=[raw], content_type=content_type)
    return answer


def messages_receive(
    *, participant: Participant, raws: Sequence[bytes], content_type: str
) -> list[IntakeAnswer]:
    """Many messages of one sender, each answered exactly as if it had been sent alone, in the order
    given: a message that repeats an earlier one of the same batch is a replay of it. The raw messages
    are stored first, in one commit; then the messages are handled in runs of up to ``INTAKE_BATCH``,
    each in one transaction with set-based reads and writes. A cancellation request ends its run, so
    that it sees every instruction sent before it."""
    inbounds = inbound_record_many(
        sender=participant,
        messages=[(raw, message_format(content_type, raw), content_type) for raw in raws],
    )
    items = []
    for inbound, raw in zip(inbounds, raws, strict=True):
        try:
            items.append(_Item(inbound, inbound.format, _parse(inbound.format, raw, participant)))
        except Iso20022Error as exc:
            unreadable = [(e.reason.value, str(e)) for e in exc.errors]
            references = mt_references(raw) if inbound.format == "MT" else mx_references(raw)
            items.append(_Item(inbound, inbound.format, None, unreadable, references))
    answers: list[IntakeAnswer] = []
    run: list[_Item] = []
    for item in items:
        run.append(item)
        if len(run) >= INTAKE_BATCH or (item.parsed and isinstance(item.parsed.body, m.CancellationRequest)):
            answers += _receive_run(participant, run)
            run = []
    if run:
        answers += _receive_run(participant, run)
    return answers


@dataclass(slots=True)
class _Item:
    inbound: InboundMessage
    fmt: str
    parsed: _Parsed | None
    unreadable: list[tuple[str, str]] | None = None
    references: References = References()  # of an unreadable message, as far as they can be read


@dataclass(frozen=True, slots=True)
class _Said:
    """An answer as stored, for a replay to repeat."""

    message: InboundMessage
    http_status: int
    response: bytes
    response_content_type: str
    reason_codes: str


def _receive_run(participant: Participant, run: list[_Item]) -> list[IntakeAnswer]:
    for _round in range(3):
        try:
            with transaction.atomic():
                return _Run(participant, run).receive()
        except IntegrityError as exc:
            if not _duplicate(exc):
                raise  # a constraint the checks before it should have kept: a fault, not a race
            continue  # a concurrent duplicate committed first: the next round finds it and replays
        except OperationalError as exc:
            if getattr(exc.__cause__, "pgcode", None) not in _TRY_AGAIN:
                raise
            continue  # the database gave this transaction up for another's sake: nothing of it stayed
    if len(run) > 1:
        return [answer for item in run for answer in _receive_run(participant, [item])]
    raise RuntimeError(f"message {run[0].inbound.pk}: kept colliding with concurrent transactions")


# PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled back whole
_TRY_AGAIN = ("40P01", "40001")


def _duplicate(exc: IntegrityError) -> bool:
    """Whether ``exc`` is a unique constraint's refusal (PostgreSQL's unique_violation, SQLite's UNIQUE)."""
    code = getattr(exc.__cause__, "pgcode", None)
    return code == "23505" if code is not None else "UNIQUE constraint failed" in str(exc)


def _keys(parsed: _Parsed) -> list[str]:
    keys = []
    if parsed.business_message_id:
        keys.append(f"bmi:{parsed.business_message_id}")
    if isinstance(parsed.body, m.SettlementInstruction):
        keys.append(f"tx:{parsed.body.transaction_id}")
    return keys


class _Run:
    """One transaction of intake: decide each message's fate in order, in memory, then write it all.

    Reads: the replay keys of the whole run, and the reference data of its instructions (five queries).
    Writes, in an order every run follows (so two runs with a key in common wait on each other, never in
    a cycle): the new replay keys sorted (business message ids, then transaction ids), the instructions
    and their events, the outbox in the order of the messages, the cancellation that ends the run if any,
    and the answers for the audit trail."""

    def __init__(self, participant: Participant, items: list[_Item]) -> None:
        self.participant = participant
        self.items = items
        self.outgoing: list[Outgoing] = []
        self.keys: list[dict] = []  # the replay keys to insert, as rows
        # every key seen so far, with its order: the stored ones first (by id), then this run's
        wanted = {key for item in items if item.parsed for key in _keys(item.parsed)}
        self.known: dict[str, tuple[tuple[int, int], InboundMessage | _Item]] = {
            found.key: ((0, found.pk), found.message)
            for found in ReplayKey.objects.select_related("message").filter(
                sender=participant, key__in=wanted
            )
        }

    def _original(self, parsed: _Parsed) -> InboundMessage | _Item | None:
        found = [self.known[key] for key in _keys(parsed) if key in self.known]
        return min(found, key=lambda entry: entry[0])[1] if found else None

    def _key(self, key: str, item: _Item) -> None:
        self.keys.append({"sender_id": self.participant.pk, "key": key, "message_id": item.inbound.pk})
        self.known[key] = ((1, len(self.keys)), item)

    def receive(self) -> list[IntakeAnswer]:
        instructions = [
            item.parsed.body
            for item in self.items
            if item.parsed and isinstance(item.parsed.body, m.SettlementInstruction)
        ]
        reference = services.ReferenceData(self.participant, instructions) if instructions else None
        # 1. each message's fate, in order, as if the ones before it had been answered already
        fates: list[tuple[str, object]] = []
        for item in self.items:
            parsed = item.parsed
            if parsed is None:
                fates.append(("unreadable", item.unreadable))
                continue
            original = self._original(parsed)
            if original is not None:
                fates.append(("replay", original))
                continue
            if parsed.business_message_id:
                self._key(f"bmi:{parsed.business_message_id}", item)
            body = parsed.body
            if isinstance(body, m.SettlementInstruction):
                try:
                    reference.resolve(body)
                    self._carried_in_outbound_format(item, body)
                except errors.SettlementError as exc:
                    fates.append(("refused", exc))
                    continue
                self._key(f"tx:{body.transaction_id}", item)
                fates.append(("accepted", None))
            elif isinstance(body, m.CancellationRequest):
                fates.append(("cancellation", body))
            else:
                fates.append(("unsupported", None))
        # 2. the writes
        rows_append(ReplayKey, sorted(self.keys, key=lambda key: key["key"]))
        accepted = [
            item for item, (fate, _detail) in zip(self.items, fates, strict=True) if fate == "accepted"
        ]
        instructions_of: dict[int, Instruction] = {}
        if accepted:
            outcomes = services.instructions_submit(
                participant=self.participant,
                submissions=[(item.parsed.body, item.inbound) for item in accepted],
                reference=reference,
                notify=False,
            )
            for item, outcome in zip(accepted, outcomes, strict=True):
                if not isinstance(outcome, Instruction):
                    raise RuntimeError(f"message {item.inbound.pk}: checked twice, answered differently")
                instructions_of[item.inbound.pk] = outcome
        said: dict[int, tuple[IntakeAnswer, InboundAnswer]] = {}
        for item, (fate, detail) in zip(self.items, fates, strict=True):
            if fate == "cancellation":
                outbound_enqueue_many(messages=self.outgoing)  # the statuses before it come first
                self.outgoing = []
                said[item.inbound.pk] = _cancellation(item, self.participant, detail, self.outgoing)
            elif fate == "replay":
                said[item.inbound.pk] = _replay(item, self._said(detail, said))
            else:
                said[item.inbound.pk] = self._answer(item, fate, detail, instructions_of)
        outbound_enqueue_many(messages=self.outgoing)
        inbound_answer_many(answers=[stored for _answer, stored in said.values()])
        return [answer for answer, _stored in said.values()]

    def _carried_in_outbound_format(self, item: _Item, body: m.SettlementInstruction) -> None:
        """Refuse an MX instruction of a participant that takes its statuses in MT when MT cannot carry
        it: its acceptance, matching and confirmation would each be unwritable (MT carries every value of
        MX but for longer references, other characters and longer quantities)."""
        if item.fmt != "MX" or self.participant.outbound_format != "MT":
            return
        try:
            build_mt(body, sender=self.participant.bic, receiver=settings.HUB_BIC)
        except Iso20022Error as exc:
            first = exc.errors[0]
            raise errors.NotCarriedInMt(
                f"{first.message}: ISO 15022, the format {self.participant.bic} takes its statuses in, "
                "cannot carry it",
                reason_code=first.reason.value,
            ) from None

    @staticmethod
    def _said(original: InboundMessage | _Item, said: dict) -> _Said:
        if isinstance(original, InboundMessage):
            return _Said(
                original,
                original.http_status,
                bytes(original.response),
                original.response_content_type,
                original.reason_codes,
            )
        _answer, stored = said[original.inbound.pk]
        return _Said(
            original.inbound,
            stored.http_status,
            stored.response,
            stored.response_content_type,
            ",".join(stored.reason_codes)[:100],
        )

    def _answer(
        self, item: _Item, fate: str, detail, instructions_of: dict[int, Instruction]
    ) -> tuple[IntakeAnswer, InboundAnswer]:
        parsed = item.parsed
        if fate == "unreadable":
            return _answer(
                item,
                400,
                InboundOutcome.REJECTED,
                notifications.rejected(item.references.transaction_id or "NONREF", detail),
                detail,
                self.participant,
                self.outgoing,
            )
        if fate == "refused":
            reasons = [(detail.reason_code, detail.message)]
            return _answer(
                item,
                422,
                InboundOutcome.REJECTED,
                notifications.rejected(parsed.body.transaction_id, reasons),
                reasons,
                self.participant,
                self.outgoing,
            )
        if fate == "accepted":
            instruction = instructions_of[item.inbound.pk]
            return _answer(
                item,
                202,
                InboundOutcome.ACCEPTED,
                notifications.accepted(instruction),
                [],
                self.participant,
                self.outgoing,
                status=InstructionStatus.ACCEPTED,
            )
        reasons = [
            (
                ReasonCode.UNSUPPORTED.value,
                f"{parsed.message_type} is not accepted from participants: send sese.023 / MT540-543 "
                "instructions or sese.020 cancellations",
            )
        ]
        transaction_id = getattr(parsed.body, "transaction_id", "NONREF")
        return _answer(
            item,
            400,
            InboundOutcome.REJECTED,
            notifications.rejected(transaction_id, reasons),
            reasons,
            self.participant,
            self.outgoing,
        )


def _replay(item: _Item, original: _Said) -> tuple[IntakeAnswer, InboundAnswer]:
    parsed = item.parsed
    stored = InboundAnswer(
        message=item.inbound,
        outcome=InboundOutcome.REPLAY,
        http_status=original.http_status,
        response=original.response,
        response_content_type=original.response_content_type,
        message_type=parsed.message_type,
        business_message_id=parsed.business_message_id or "",
        transaction_id=getattr(parsed.body, "transaction_id", ""),
        original=original.message,
        detail=f"replay of message {original.message.pk}",
    )
    answer = IntakeAnswer(
        original.http_status,
        original.response,
        original.response_content_type,
        InboundOutcome.REPLAY.value,
        tuple(filter(None, original.reason_codes.split(","))),
        item.inbound.pk,
    )
    return answer, stored


def _cancellation(
    item: _Item, participant: Participant, request: m.CancellationRequest, outgoing: list[Outgoing]
) -> tuple[IntakeAnswer, InboundAnswer]:
    try:
        with transaction.atomic():
            outcome = services.instruction_cancel(
                participant=participant,
                transaction_id=request.transaction_id,
                request=request,
                source_message=item.inbound,
            )
    except (errors.UnknownInstruction, errors.CancellationDoesNotMatch) as exc:
        code = str(exc.reason_code)
        status = m.ProcessingStatus(
            code=m.ProcessingStatusCode.REJECTED,
            reasons=(m.Reason(code=code, narrative=notifications.narrative(exc.message)),),
        )
        answer = notifications.cancellation_status(request, status)
        return _answer(
            item, 422, InboundOutcome.REJECTED, answer, [(code, exc.message)], participant, outgoing
        )
    reasons = (outcome.reason,) if outcome.reason else ()
    answer = notifications.cancellation_status(
        request,
        m.ProcessingStatus(code=outcome.processing, reasons=reasons),
        instruction=outcome.instruction,
    )
    accepted = outcome.processing != m.ProcessingStatusCode.DENIED
    return _answer(
        item,
        200,
        InboundOutcome.ACCEPTED if accepted else InboundOutcome.REJECTED,
        answer,
        [(r.code, r.narrative or "") for r in reasons],
        participant,
        outgoing,
    )


def _answer(
    item: _Item,
    http_status: int,
    outcome: str,
    body: m.Message,
    reasons: list[tuple[str, str]],
    participant: Participant,
    outgoing: list[Outgoing],
    *,
    status: str | None = None,
) -> tuple[IntakeAnswer, InboundAnswer]:
    """The answer to a message and its record for the audit trail. A rejection, or an answer given a
    ``status`` (the instruction's ACCEPTED), also goes to the participant's outbox (``outgoing``), which
    keeps every status it is given: as the same message, business message id included, when the
    participant takes its outbox in the format it sent."""
    parsed = item.parsed
    if parsed is not None:
        transaction_id = getattr(parsed.body, "transaction_id", "")
        business_message_id = parsed.business_message_id or ""
    else:  # what an unreadable message says of itself, where it can be read
        transaction_id = item.references.transaction_id or ""
        business_message_id = item.references.business_message_id or ""
    related_id = business_message_id or None
    rendered = render(body, receiver_bic=participant.bic, fmt=item.fmt, related_id=related_id)
    codes = tuple(str(code) for code, _text in reasons)
    if outcome == InboundOutcome.REJECTED:
        status = InboundOutcome.REJECTED
    if status is not None:
        same = rendered if participant.outbound_format == item.fmt else None
        queued_as = transaction_id if parsed is not None else transaction_id or "NONREF"
        outgoing.append(Outgoing(participant, body, queued_as, status, related_id, same))
    stored = InboundAnswer(
        message=item.inbound,
        outcome=outcome,
        http_status=http_status,
        response=rendered.payload,
        response_content_type=rendered.content_type,
        message_type=parsed.message_type if parsed else "",
        business_message_id=business_message_id,
        transaction_id=transaction_id,
        reason_codes=codes,
        detail="\n".join(text for _code, text in reasons),
    )
    answer = IntakeAnswer(
        http_status, rendered.payload, XML if item.fmt == "MX" else FIN, str(outcome), codes, item.inbound.pk
    )
    return answer, stored
