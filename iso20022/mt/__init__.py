"""ISO 15022 MT (SWIFT FIN): parse into the shared models and build from them.

- ``parse_fin`` / ``build_fin`` (``iso20022.mt.fin``): the syntax layer, blocks 1-5 and the block 4 tree.
- ``parse_mt(text)``: FIN text -> model (``SettlementInstruction`` for MT540-543, ...), or the checked
  FIN tree for MT537, which has no shared model. Raises ``MalformedMessage`` (syntax),
  ``UnsupportedMessage`` (a type the hub does not read) or ``InvalidContent`` (missing mandatory
  content), each with every ``MessageError`` found.
- ``build_mt(model)``: model -> FIN text (CRLF), the message type chosen from the model.
"""

from __future__ import annotations

from collections.abc import Callable

from iso20022 import models as m
from iso20022.errors import Iso20022Error, MessageError, ReasonCode, UnsupportedMessage
from iso20022.mt import intra, settlement, statements
from iso20022.mt.fields import FieldFormatError, format_decimal, make_field
from iso20022.mt.fin import FinMessage, Sequence, build_fin, input_message, parse_fin

SUPPORTED_TYPES = (
    "508",
    "524",
    "535",
    "536",
    "537",
    "540",
    "541",
    "542",
    "543",
    "544",
    "545",
    "546",
    "547",
    "548",
)

_READERS: dict[str, Callable[[FinMessage], object]] = {
    **{mt: settlement.read_instruction for mt in settlement.INSTRUCTIONS},
    **{mt: settlement.read_confirmation for mt in settlement.CONFIRMATIONS},
    "548": settlement.read_status,
    "524": intra.read_movement,
    "508": intra.read_advice,
    "535": statements.read_holdings,
    "536": statements.read_transactions,
    "537": statements.read_pending,
}

__all__ = [
    "SUPPORTED_TYPES",
    "FinMessage",
    "build_fin",
    "build_mt",
    "message_type_for",
    "parse_fin",
    "parse_mt",
    "read_message",
    "account_fits",
    "quantity_fits",
    "reference_fits",
    "validate_mt",
]


def reference_fits(reference: str) -> bool:
    """Whether ``reference`` can travel as an MT reference (``:20C:``: at most 16 characters of the SWIFT
    x character set). An ISO 20022 transaction id may hold 35 characters, and others."""
    try:
        make_field("20C", "SEME", reference)
    except FieldFormatError:
        return False
    return True


def account_fits(account: str) -> bool:
    """Whether ``account`` can travel as an MT safekeeping account (``:97A::SAFE//``: at most 35 characters
    of the SWIFT x character set)."""
    try:
        make_field("97A", "SAFE", account)
    except FieldFormatError:
        return False
    return True


def quantity_fits(quantity: m.Quantity) -> bool:
    """Whether ``quantity`` can travel in an MT540-543 (``:36B:``: a SWIFT decimal of at most 15 characters,
    and at most five decimal places, as the hub reads them)."""
    if quantity.amount < 0 or quantity.amount.normalize().as_tuple().exponent < -settlement.QUANTITY_DECIMALS:
        return False
    try:
        make_field("36B", "SETT", f"{quantity.type.value}/{format_decimal(quantity.amount)}")
    except FieldFormatError:
        return False
    return True


def read_message(message: FinMessage) -> m.Message | FinMessage:
    """The business content of a parsed FIN message."""
    reader = _READERS.get(message.message_type)
    if reader is None:
        raise UnsupportedMessage(
            MessageError(
                reason=ReasonCode.UNSUPPORTED,
                line=1,
                path="2",
                message=f"MT{message.message_type} is not a message type the hub reads "
                f"(MT{', MT'.join(SUPPORTED_TYPES)})",
            )
        )
    return reader(message)


def parse_mt(data: str | bytes) -> m.Message | FinMessage:
    return read_message(parse_fin(data))


def validate_mt(data: str | bytes) -> list[MessageError]:
    """Every error of a message; empty when the hub would accept it."""
    try:
        parse_mt(data)
    except Iso20022Error as exc:
        return list(exc.errors)
    return []


def message_type_for(model: object) -> str:
    match model:
        case m.SettlementInstruction() | m.CancellationRequest():
            return settlement.instruction_type(model.side, model.payment)
        case m.SettlementConfirmation():
            return settlement.confirmation_type(model.side, model.payment)
        case m.StatusAdvice() | m.CancellationStatus():
            return "548"
        case m.IntraPositionMovement():
            return "524"
        case m.IntraPositionConfirmation() | m.IntraPositionStatus():
            return "508"
        case m.HoldingsStatement():
            return "535"
        case m.TransactionsStatement():
            return "536"
    raise UnsupportedMessage(
        MessageError(reason=ReasonCode.UNSUPPORTED, message=f"no MT message carries a {type(model).__name__}")
    )


_WRITERS: dict[type, Callable[[object], Sequence]] = {
    m.SettlementInstruction: settlement.write_instruction,
    m.CancellationRequest: settlement.write_cancellation,
    m.SettlementConfirmation: settlement.write_confirmation,
    m.StatusAdvice: settlement.write_status,
    m.CancellationStatus: settlement.write_cancellation_status,
    m.IntraPositionMovement: intra.write_movement,
    m.IntraPositionConfirmation: intra.write_confirmation,
    m.IntraPositionStatus: intra.write_status,
    m.HoldingsStatement: statements.write_holdings,
    m.TransactionsStatement: statements.write_transactions,
}

UNKNOWN_BIC = "XXXXXXXXXXX"


def _default_parties(model: object) -> tuple[str, str]:
    """(sender, receiver) when the caller names none: the account owner on its side of the exchange."""
    owner = getattr(model, "account_owner_bic", None) or UNKNOWN_BIC
    if isinstance(model, m.SettlementInstruction | m.CancellationRequest | m.IntraPositionMovement):
        csd = getattr(model, "own_csd_bic", None)
        return owner, csd or UNKNOWN_BIC
    return UNKNOWN_BIC, owner


def build_mt(
    model: m.Message,
    *,
    sender: str | None = None,
    receiver: str | None = None,
    user: tuple[tuple[str, str], ...] = (),
) -> str:
    """FIN text for a model; ``sender`` / ``receiver`` are BICs for blocks 1 and 2, ``user`` the
    block 3 fields (e.g. ``(("108", "MUR"),)``)."""
    writer = _WRITERS.get(type(model))
    if writer is None:
        message_type_for(model)  # raises UnsupportedMessage
    default_sender, default_receiver = _default_parties(model)
    text = writer(model)
    return build_fin(
        input_message(
            message_type_for(model), sender or default_sender, receiver or default_receiver, text, user
        )
    )
