"""The participant message intake: one raw message in, one answer out.

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
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from hub.messaging.models import InboundMessage, InboundOutcome, ReplayKey
from hub.messaging.rendering import FIN, XML, render
from hub.messaging.services import inbound_answer, inbound_record, outbound_enqueue
from hub.registry.models import Participant
from hub.settlement import errors, notifications, services
from hub.settlement.services import bic8
from iso20022 import models as m
from iso20022 import mx
from iso20022.errors import Iso20022Error, MessageError, ReasonCode, UnsupportedMessage
from iso20022.mt import FinMessage, message_type_for, parse_mt

MX_TYPES = ("application/xml", "text/xml")
MT_TYPES = ("text/plain",)


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


def message_format(content_type: str, raw: bytes) -> str:
    """MX or MT from the content type; from the first character when the type says neither."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in MX_TYPES or media.endswith("+xml"):
        return "MX"
    if media in MT_TYPES:
        return "MT"
    return "MT" if raw.lstrip()[:1] == b"{" else "MX"


def _parse(fmt: str, raw: bytes, participant: Participant) -> _Parsed:
    if fmt == "MT":
        body = parse_mt(raw)
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
    if message.header is not None and bic8(message.header.from_bic) != bic8(participant.bic):
        raise UnsupportedMessage(
            MessageError(
                reason=ReasonCode.PARTY,
                path="AppHdr/Fr",
                message=f"the header's sender {message.header.from_bic} is not the caller {participant.bic}",
            )
        )
    bmi = message.header.business_message_id if message.header else None
    return _Parsed("MX", message.message_id, message.body, bmi)


def message_receive(*, participant: Participant, raw: bytes, content_type: str) -> IntakeAnswer:
    fmt = message_format(content_type, raw)
    inbound = inbound_record(sender=participant, raw=raw, fmt=fmt, content_type=content_type)
    try:
        parsed = _parse(fmt, raw, participant)
    except Iso20022Error as exc:
        reasons = [(e.reason.value, str(e)) for e in exc.errors]
        with transaction.atomic():
            return _answer(
                inbound,
                fmt,
                400,
                InboundOutcome.REJECTED,
                notifications.rejected("NONREF", reasons),
                reasons,
                participant,
                None,
            )
    for _round in range(3):
        try:
            with transaction.atomic():
                original = _original(participant, parsed)
                if original is not None:
                    return _replay(inbound, original, parsed)
                return _dispatch(inbound, participant, parsed)
        except IntegrityError:
            continue  # a concurrent duplicate committed first: the next round finds it and replays
    raise RuntimeError(f"message {inbound.pk}: concurrent duplicates kept colliding")


def _keys(participant: Participant, parsed: _Parsed) -> list[str]:
    keys = []
    if parsed.business_message_id:
        keys.append(f"bmi:{parsed.business_message_id}")
    if isinstance(parsed.body, m.SettlementInstruction):
        keys.append(f"tx:{parsed.body.transaction_id}")
    return keys


def _original(participant: Participant, parsed: _Parsed) -> InboundMessage | None:
    key = ReplayKey.objects.select_related("message").filter(
        sender=participant, key__in=_keys(participant, parsed)
    )
    found = key.order_by("pk").first()
    return found.message if found else None


def _replay(inbound: InboundMessage, original: InboundMessage, parsed: _Parsed) -> IntakeAnswer:
    inbound_answer(
        message=inbound,
        outcome=InboundOutcome.REPLAY,
        http_status=original.http_status,
        response=bytes(original.response),
        response_content_type=original.response_content_type,
        message_type=parsed.message_type,
        business_message_id=parsed.business_message_id or "",
        transaction_id=getattr(parsed.body, "transaction_id", ""),
        original=original,
        detail=f"replay of message {original.pk}",
    )
    codes = tuple(filter(None, original.reason_codes.split(",")))
    return IntakeAnswer(
        original.http_status,
        bytes(original.response),
        original.response_content_type,
        InboundOutcome.REPLAY.value,
        codes,
        inbound.pk,
    )


def _dispatch(inbound: InboundMessage, participant: Participant, parsed: _Parsed) -> IntakeAnswer:
    if parsed.business_message_id:
        ReplayKey.objects.create(sender=participant, key=f"bmi:{parsed.business_message_id}", message=inbound)
    body = parsed.body
    if isinstance(body, m.SettlementInstruction):
        try:
            with transaction.atomic():
                instruction = services.instruction_submit(
                    participant=participant, body=body, source_message=inbound
                )
        except errors.SettlementError as exc:
            reasons = [(exc.reason_code, exc.message)]
            return _answer(
                inbound,
                parsed.fmt,
                422,
                InboundOutcome.REJECTED,
                notifications.rejected(body.transaction_id, reasons),
                reasons,
                participant,
                parsed,
            )
        ReplayKey.objects.create(sender=participant, key=f"tx:{body.transaction_id}", message=inbound)
        return _answer(
            inbound,
            parsed.fmt,
            202,
            InboundOutcome.ACCEPTED,
            notifications.accepted(instruction),
            [],
            participant,
            parsed,
        )
    if isinstance(body, m.CancellationRequest):
        return _cancellation(inbound, participant, parsed, body)
    reasons = [
        (
            ReasonCode.UNSUPPORTED.value,
            f"{parsed.message_type} is not accepted from participants: send sese.023 / MT540-543 instructions "
            "or sese.020 cancellations",
        )
    ]
    transaction_id = getattr(body, "transaction_id", "NONREF")
    return _answer(
        inbound,
        parsed.fmt,
        400,
        InboundOutcome.REJECTED,
        notifications.rejected(transaction_id, reasons),
        reasons,
        participant,
        parsed,
    )


def _cancellation(
    inbound: InboundMessage, participant: Participant, parsed: _Parsed, request: m.CancellationRequest
) -> IntakeAnswer:
    try:
        with transaction.atomic():
            outcome = services.instruction_cancel(
                participant=participant, transaction_id=request.transaction_id
            )
    except errors.UnknownInstruction as exc:
        status = m.ProcessingStatus(
            code=m.ProcessingStatusCode.REJECTED,
            reasons=(
                m.Reason(code=ReasonCode.REFERENCE.value, narrative=notifications.narrative(exc.message)),
            ),
        )
        answer = _cancellation_status(request, status)
        return _answer(
            inbound,
            parsed.fmt,
            422,
            InboundOutcome.REJECTED,
            answer,
            [(ReasonCode.REFERENCE.value, exc.message)],
            participant,
            parsed,
        )
    reasons = (outcome.reason,) if outcome.reason else ()
    answer = _cancellation_status(
        request,
        m.ProcessingStatus(code=outcome.processing, reasons=reasons),
        instruction=outcome.instruction,
    )
    accepted = outcome.processing != m.ProcessingStatusCode.DENIED
    return _answer(
        inbound,
        parsed.fmt,
        200,
        InboundOutcome.ACCEPTED if accepted else InboundOutcome.REJECTED,
        answer,
        [(r.code, r.narrative or "") for r in reasons],
        participant,
        parsed,
    )


def _cancellation_status(
    request: m.CancellationRequest, status: m.ProcessingStatus, instruction=None
) -> m.CancellationStatus:
    """sese.027 carries the account and the instruction's details all together or not at all."""
    details = {}
    if instruction is not None:
        details = {
            "account_servicer_transaction_id": f"HUBI{instruction.pk}",
            "safekeeping_account": instruction.account.number,
            "account_owner_bic": instruction.participant.bic,
            "security": m.Security(isin=instruction.security.isin),
            "quantity": notifications.quantity_of(instruction),
            "intended_settlement_date": instruction.intended_settlement_date,
        }
    return m.CancellationStatus(
        cancellation_request_reference=request.business_message_id or request.transaction_id,
        transaction_id=request.transaction_id,
        side=request.side,
        payment=request.payment,
        processing=status,
        **details,
    )


def _answer(
    inbound: InboundMessage,
    fmt: str,
    http_status: int,
    outcome: str,
    body: m.Message,
    reasons: list[tuple[str, str]],
    participant: Participant,
    parsed: _Parsed | None,
) -> IntakeAnswer:
    rendered = render(
        body, receiver_bic=participant.bic, fmt=fmt, related_id=parsed.business_message_id if parsed else None
    )
    codes = tuple(str(code) for code, _text in reasons)
    if outcome == InboundOutcome.REJECTED:
        # the participant's outbox keeps every status it is given, rejections included
        outbound_enqueue(
            participant=participant,
            body=body,
            status=InboundOutcome.REJECTED,
            transaction_id=getattr(parsed.body, "transaction_id", "") if parsed else "NONREF",
        )
    inbound_answer(
        message=inbound,
        outcome=outcome,
        http_status=http_status,
        response=rendered.payload,
        response_content_type=rendered.content_type,
        message_type=parsed.message_type if parsed else "",
        business_message_id=(parsed.business_message_id or "") if parsed else "",
        transaction_id=getattr(parsed.body, "transaction_id", "") if parsed else "",
        reason_codes=codes,
        detail="\n".join(text for _code, text in reasons),
    )
    return IntakeAnswer(
        http_status, rendered.payload, XML if fmt == "MX" else FIN, str(outcome), codes, inbound.pk
    )
