"""MT540-547 (instructions, cancellations, confirmations) and MT548 (status) <-> the shared models.

The message type carries the side and the payment: MT540 receive free, MT541 receive against payment,
MT542 deliver free, MT543 deliver against payment; MT544-547 are their confirmations in the same
order. The field-by-field mapping is documented in ``iso20022/MAPPING.md``.
"""

from __future__ import annotations

from iso20022.errors import BuildError, MessageError, ReasonCode
from iso20022.identifiers import isin_is_valid
from iso20022.models import (
    Amount,
    CancellationRequest,
    CancellationStatus,
    MatchingStatus,
    MatchingStatusCode,
    Payment,
    ProcessingStatus,
    ProcessingStatusCode,
    Quantity,
    QuantityType,
    Security,
    SettlementConfirmation,
    SettlementInstruction,
    SettlementStatus,
    SettlementStatusCode,
    Side,
    StatusAdvice,
    TransactionDetails,
)
from iso20022.mt import fields as f
from iso20022.mt.access import F, Reader, S, S_if
from iso20022.mt.fin import FinMessage, Sequence
from iso20022.mt.parties import (
    counterparty_from,
    read_reasons,
    write_parties,
    write_reasons,
)

INSTRUCTIONS = {
    "540": (Side.RECEIVE, Payment.FREE),
    "541": (Side.RECEIVE, Payment.AGAINST_PAYMENT),
    "542": (Side.DELIVER, Payment.FREE),
    "543": (Side.DELIVER, Payment.AGAINST_PAYMENT),
}
CONFIRMATIONS = {
    "544": (Side.RECEIVE, Payment.FREE),
    "545": (Side.RECEIVE, Payment.AGAINST_PAYMENT),
    "546": (Side.DELIVER, Payment.FREE),
    "547": (Side.DELIVER, Payment.AGAINST_PAYMENT),
}
NO_REFERENCE = "NONREF"


# the same tables the other way round: (side, payment) -> message type
_INSTRUCTION_TYPES = {pair: mt for mt, pair in INSTRUCTIONS.items()}
_CONFIRMATION_TYPES = {pair: mt for mt, pair in CONFIRMATIONS.items()}


def instruction_type(side: Side, payment: Payment) -> str:
    return _INSTRUCTION_TYPES[side, payment]


def confirmation_type(side: Side, payment: Payment) -> str:
    return _CONFIRMATION_TYPES[side, payment]


# ------------------------------------------------------------------------------------- shared pieces


def security_from(value: object) -> Security | None:
    if not isinstance(value, f.SecurityId):
        return None
    return Security(isin=value.isin or "", description=f.unwrap(value.description) or None)


def security_field(security: Security | None) -> f.Field | None:
    if security is None:
        return None
    return F("35B", None, f.SecurityId(security.isin, f.wrap(security.description or "")))


def quantity_from(value: object) -> Quantity | None:
    if not isinstance(value, f.Quantity):
        return None
    return Quantity(amount=value.amount, type=QuantityType(value.kind))


def quantity_value(quantity: Quantity | None) -> f.Quantity | None:
    return None if quantity is None else f.Quantity(quantity.type.value, quantity.amount)


def amount_from(value: object) -> Amount | None:
    return Amount(value=value.amount, currency=value.currency) if isinstance(value, f.Amount) else None


def amount_value(amount: Amount | None) -> f.Amount | None:
    return None if amount is None else f.Amount(amount.currency, amount.value)


def links(genl: Sequence | None) -> dict[str, str]:
    """Qualifier -> reference of every ``:20C:`` in the LINK sequences of GENL (plus ``LINK``: the
    linked message type of ``:13A::LINK//``)."""
    found: dict[str, str] = {}
    for link in genl.sequences("LINK") if genl else ():
        for item in link.items:
            if isinstance(item, f.Field) and item.qualifier and item.tag in ("20C", "13A"):
                found.setdefault(item.qualifier, str(item.value))
    return found


def link(qualifier: str, reference: str | None, message_type: str | None = None) -> Sequence | None:
    if reference is None:
        return None
    return S("LINK", F("13A", "LINK", message_type), F("20C", qualifier, reference))


def check_security(reader: Reader, security: Security | None, where: Sequence | None) -> None:
    if security is None:
        return
    if not security.isin:
        reader.fail("the instrument must be identified by ISIN (:35B:ISIN ...)", where, ReasonCode.SECURITY)
    elif not isin_is_valid(security.isin):
        reader.fail(f"ISIN {security.isin} has a wrong check digit", where, ReasonCode.SECURITY)


# the most decimal places an instruction's quantity may carry: the hub's usage guideline (HubQuantity in
# schemas/common.xsd) allows five in MX, and an MT instruction is held to the same
QUANTITY_DECIMALS = 5


def check_quantity(
    reader: Reader, quantity: Quantity | None, where: Sequence | None, *, positive: bool = False
) -> None:
    """At most five decimals, as ISO 20022 quantities carry; and, with ``positive``, more than zero (a
    confirmation or a movement of nothing)."""
    if positive and quantity is not None and quantity.amount <= 0:
        reader.fail(f"quantity {quantity.amount} must be more than zero", where, ReasonCode.QUANTITY)
    if quantity is not None and quantity.amount.normalize().as_tuple().exponent < -QUANTITY_DECIMALS:
        reader.fail(
            f"quantity {quantity.amount} has more than {QUANTITY_DECIMALS} decimal places",
            where,
            ReasonCode.QUANTITY,
        )


# --------------------------------------------------------------------------------- MT540-543 in / out


def only_indicators(reader: Reader, setdet: Sequence | None, *known: str) -> None:
    """Refuse a ``:22F:`` indicator of SETDET the hub does not carry (a settlement condition such as
    ``STCO//NPAR``, say): the MX usage guideline refuses the same content, and dropped it would change
    the instruction the CSD is given."""
    if setdet is None:
        return
    for indicator in setdet.fields("22F"):
        if indicator.qualifier not in known:
            reader.fail(
                f":22F::{indicator.qualifier}// is not an indicator the hub carries ({', '.join(known)})",
                indicator,
                ReasonCode.UNSUPPORTED,
            )


def amount_field(reader: Reader, setdet: Sequence | None, qualifier: str) -> object:
    """The ``:19A::<qualifier>`` amount of whichever AMT sequence of SETDET carries it."""
    for amt in setdet.sequences("AMT") if setdet is not None else ():
        found = amt.field("19A", qualifier)
        if found is not None:
            return found.value
    # in none: recorded as missing, from the first AMT (or the AMT sequence itself, when there is none)
    return reader.need(
        reader.seq(setdet, "AMT", reason=ReasonCode.AMOUNT), "19A", qualifier, ReasonCode.AMOUNT
    )


def read_instruction(message: FinMessage) -> SettlementInstruction | CancellationRequest:
    side, payment = INSTRUCTIONS[message.message_type]
    reader = Reader(message.message_type)
    root = message.text
    genl = reader.seq(root, "GENL")
    seme = reader.need(genl, "20C", "SEME", ReasonCode.REFERENCE)
    function = reader.function(genl, "NEWM", "PREA", "CANC")
    traddet = reader.seq(root, "TRADDET")
    fiac = reader.seq(root, "FIAC")
    setdet = reader.seq(root, "SETDET")
    refs = links(genl)
    security = security_from(reader.need(traddet, "35B", None, ReasonCode.SECURITY))
    check_security(reader, security, traddet)
    quantity = quantity_from(reader.need(fiac, "36B", "SETT", ReasonCode.QUANTITY))
    check_quantity(reader, quantity, fiac)
    account = reader.need(fiac, "97A", "SAFE", ReasonCode.SAFEKEEPING_ACCOUNT)
    owner = reader.optional(fiac, "95P", "ACOW") or message.sender
    settlement_date = reader.need(traddet, "98a", "SETT", ReasonCode.SETTLEMENT_DATE)
    if function == "CANC":
        previous = refs.get("PREV")
        if previous is None:
            reader.fail(
                "a cancellation needs LINK :20C::PREV// (the instruction to cancel)",
                genl,
                ReasonCode.REFERENCE,
            )
        reader.check()
        return CancellationRequest(
            transaction_id=previous,
            side=side,
            payment=payment,
            safekeeping_account=account,
            account_owner_bic=owner,
            business_message_id=None if seme == NO_REFERENCE else seme,
            account_servicer_transaction_id=refs.get("ASRF"),
            security=security,
            quantity=quantity,
            intended_settlement_date=settlement_date,
        )
    trade_date = reader.need(traddet, "98a", "TRAD", ReasonCode.TRADE_DATE)
    transaction_type = reader.need(setdet, "22F", "SETR", ReasonCode.UNSUPPORTED)
    only_indicators(reader, setdet, "SETR")
    counterparty, client_bic, client_account = counterparty_from(
        reader, setdet, side, owner=owner, account=account
    )
    settlement_amount = None
    if payment is Payment.AGAINST_PAYMENT:
        settlement_amount = amount_from(amount_field(reader, setdet, "SETT"))
    place = reader.optional(fiac, "94F", "SAFE")
    reader.check()
    return SettlementInstruction(
        transaction_id=seme,
        side=side,
        payment=payment,
        trade_date=trade_date,
        intended_settlement_date=settlement_date,
        security=security,
        quantity=quantity,
        safekeeping_account=account,
        account_owner_bic=owner,
        counterparty=counterparty,
        transaction_type=transaction_type,
        common_trade_reference=refs.get("COMM"),
        settlement_amount=settlement_amount,
        client_bic=client_bic,
        client_account=client_account,
        # the place of safekeeping names the sender's CSD only as NCSD (CUST, ICSD, SHHE name others)
        own_csd_bic=place.bic if isinstance(place, f.PlaceCode) and place.code == "NCSD" else None,
    )


def write_instruction(model: SettlementInstruction) -> Sequence:
    if model.payment is Payment.AGAINST_PAYMENT and model.settlement_amount is None:
        raise BuildError(
            MessageError(
                reason=ReasonCode.AMOUNT,
                path="SETDET/AMT/:19A::SETT",
                message="an against-payment instruction needs a settlement amount",
            )
        )
    return S(
        "",
        S(
            "GENL",
            F("20C", "SEME", model.transaction_id),
            F("23G", None, "NEWM"),
            link("COMM", model.common_trade_reference),
        ),
        S(
            "TRADDET",
            F("98A", "SETT", model.intended_settlement_date),
            F("98A", "TRAD", model.trade_date),
            security_field(model.security),
        ),
        S(
            "FIAC",
            F("36B", "SETT", quantity_value(model.quantity)),
            F("95P", "ACOW", model.account_owner_bic),
            F("97A", "SAFE", model.safekeeping_account),
            F("94F", "SAFE", f.PlaceCode("NCSD", model.own_csd_bic) if model.own_csd_bic else None),
        ),
        S(
            "SETDET",
            F("22F", "SETR", model.transaction_type),
            *write_parties(model.side, model.counterparty, model.client_bic, model.client_account),
            S_if("AMT", F("19A", "SETT", amount_value(model.settlement_amount)))
            if model.payment is Payment.AGAINST_PAYMENT
            else None,
        ),
    )


def write_cancellation(model: CancellationRequest) -> Sequence:
    missing = [
        name for name in ("security", "quantity", "intended_settlement_date") if getattr(model, name) is None
    ]
    if missing:
        raise BuildError(
            MessageError(
                reason=ReasonCode.OTHER,
                message="an MT54x cancellation repeats the "
                f"instruction's details; missing: {', '.join(missing)}",
            )
        )
    return S(
        "",
        S(
            "GENL",
            F("20C", "SEME", model.business_message_id or NO_REFERENCE),
            F("23G", None, "CANC"),
            link("PREV", model.transaction_id),
            link("ASRF", model.account_servicer_transaction_id),
        ),
        S("TRADDET", F("98A", "SETT", model.intended_settlement_date), security_field(model.security)),
        S(
            "FIAC",
            F("36B", "SETT", quantity_value(model.quantity)),
            F("95P", "ACOW", model.account_owner_bic),
            F("97A", "SAFE", model.safekeeping_account),
        ),
        S("SETDET", F("22F", "SETR", "TRAD")),
    )


# --------------------------------------------------------------------------------- MT544-547 in / out


def read_confirmation(message: FinMessage) -> SettlementConfirmation:
    side, payment = CONFIRMATIONS[message.message_type]
    reader = Reader(message.message_type)
    root = message.text
    genl = reader.seq(root, "GENL")
    reader.need(genl, "20C", "SEME", ReasonCode.REFERENCE)
    reader.function(genl, "NEWM")
    refs = links(genl)
    if "RELA" not in refs:
        reader.fail(
            "LINK :20C::RELA// (the account owner's reference) is missing", genl, ReasonCode.REFERENCE
        )
    traddet = reader.seq(root, "TRADDET")
    fiac = reader.seq(root, "FIAC")
    setdet = reader.seq(root, "SETDET")
    security = security_from(reader.need(traddet, "35B", None, ReasonCode.SECURITY))
    check_security(reader, security, traddet)
    effective = reader.need(traddet, "98a", "ESET", ReasonCode.SETTLEMENT_DATE)
    trade_date = reader.optional(traddet, "98a", "TRAD")
    quantity = quantity_from(reader.need(fiac, "36B", "ESTT", ReasonCode.QUANTITY))
    check_quantity(reader, quantity, fiac, positive=True)
    account = reader.need(fiac, "97A", "SAFE", ReasonCode.SAFEKEEPING_ACCOUNT)
    owner = reader.optional(fiac, "95P", "ACOW") or message.receiver
    transaction_type = reader.need(setdet, "22F", "SETR", ReasonCode.UNSUPPORTED)
    only_indicators(reader, setdet, "SETR")
    counterparty, _, _ = counterparty_from(reader, setdet, side)
    settled_amount = None
    if payment is Payment.AGAINST_PAYMENT:
        settled_amount = amount_from(amount_field(reader, setdet, "ESTT"))
    reader.check()
    return SettlementConfirmation(
        transaction_id=refs["RELA"],
        side=side,
        payment=payment,
        effective_settlement_date=effective,
        security=security,
        settled_quantity=quantity,
        safekeeping_account=account,
        account_owner_bic=owner,
        counterparty=counterparty,
        account_servicer_transaction_id=refs.get("ASRF"),
        market_infrastructure_transaction_id=refs.get("MITI"),
        trade_date=trade_date,
        transaction_type=transaction_type,
        common_trade_reference=refs.get("COMM"),
        settled_amount=settled_amount,
    )


def write_confirmation(model: SettlementConfirmation) -> Sequence:
    if model.payment is Payment.AGAINST_PAYMENT and model.settled_amount is None:
        raise BuildError(
            MessageError(
                reason=ReasonCode.AMOUNT,
                path="SETDET/AMT/:19A::ESTT",
                message="an against-payment confirmation needs the settled amount",
            )
        )
    return S(
        "",
        S(
            "GENL",
            F("20C", "SEME", model.account_servicer_transaction_id or model.transaction_id),
            F("23G", None, "NEWM"),
            link("RELA", model.transaction_id, instruction_type(model.side, model.payment)),
            link("ASRF", model.account_servicer_transaction_id),
            link("MITI", model.market_infrastructure_transaction_id),
            link("COMM", model.common_trade_reference),
        ),
        S(
            "TRADDET",
            F("98A", "ESET", model.effective_settlement_date),
            F("98A", "TRAD", model.trade_date),
            security_field(model.security),
        ),
        S(
            "FIAC",
            F("36B", "ESTT", quantity_value(model.settled_quantity)),
            F("95P", "ACOW", model.account_owner_bic),
            F("97A", "SAFE", model.safekeeping_account),
        ),
        S(
            "SETDET",
            F("22F", "SETR", model.transaction_type),
            *write_parties(model.side, model.counterparty),
            S_if("AMT", F("19A", "ESTT", amount_value(model.settled_amount)))
            if model.payment is Payment.AGAINST_PAYMENT
            else None,
        ),
    )


# ---------------------------------------------------------------------------------------- MT548 in / out

_STATUS_KINDS = {
    "IPRC": (ProcessingStatusCode, ProcessingStatus),
    "CPRC": (ProcessingStatusCode, ProcessingStatus),
    "MTCH": (MatchingStatusCode, MatchingStatus),
    "SETT": (SettlementStatusCode, SettlementStatus),
}


def read_statuses(reader: Reader, genl: Sequence | None, *, required: bool = True) -> dict[str, object]:
    """Qualifier (IPRC, CPRC, MTCH, SETT) -> status model of every GENL/STAT sequence."""
    found: dict[str, object] = {}
    statuses = list(genl.sequences("STAT")) if genl else []
    if genl is not None and not statuses and required:
        reader.fail("mandatory sequence STAT (:25D: status) is missing", genl)
    for stat in statuses:
        status = stat.field("25D")
        if status is None:
            reader.fail("STAT without a :25D: status", stat)
            continue
        kinds = _STATUS_KINDS
        if status.qualifier not in kinds or status.issuer:
            reader.fail(
                f":25D::{status.qualifier}/{status.issuer or ''}/ is not an ISO status the hub reads", status
            )
            continue
        codes, model = kinds[status.qualifier]
        try:
            code = codes(status.value)
        except ValueError:
            reader.fail(
                f":25D::{status.qualifier}//{status.value} is not one of {', '.join(c.value for c in codes)}",
                status,
            )
            continue
        found[status.qualifier] = model(code=code, reasons=read_reasons(stat))
    return found


def write_statuses(pairs: list[tuple[str, object]]) -> list[Sequence]:
    return [
        S("STAT", F("25D", qualifier, status.code.value), *write_reasons(status.code.value, status.reasons))
        for qualifier, status in pairs
        if status is not None
    ]


def read_status(message: FinMessage) -> StatusAdvice | CancellationStatus:
    reader = Reader(message.message_type)
    root = message.text
    genl = reader.seq(root, "GENL")
    reader.need(genl, "20C", "SEME", ReasonCode.REFERENCE)
    function = reader.function(genl, "INST", "CAST")
    refs = links(genl)
    if "RELA" not in refs:
        reader.fail(
            "LINK :20C::RELA// (the reference of the instruction) is missing", genl, ReasonCode.REFERENCE
        )
    statuses = read_statuses(reader, genl)
    settran = reader.seq(root, "SETTRAN", required=False)
    if function == "CAST":
        linked = refs.get("LINK")
        if linked not in INSTRUCTIONS:
            reader.fail(
                "a cancellation status needs LINK :13A::LINK//540-543 (the cancelled message type)",
                genl,
                ReasonCode.UNSUPPORTED,
            )
        if "PREV" not in refs:
            reader.fail(
                "LINK :20C::PREV// (the cancelled instruction) is missing", genl, ReasonCode.REFERENCE
            )
        if "CPRC" not in statuses:
            reader.fail("STAT :25D::CPRC// (cancellation processing status) is missing", genl)
        reader.check()
        side, payment = INSTRUCTIONS[linked]
        echoed = _read_cancelled(reader, settran) if settran is not None else {}
        reader.check()
        return CancellationStatus(
            cancellation_request_reference=refs["RELA"],
            transaction_id=refs["PREV"],
            side=side,
            payment=payment,
            processing=statuses["CPRC"],
            account_servicer_transaction_id=refs.get("ASRF"),
            **echoed,
        )
    details = read_details(reader, settran) if settran is not None else None
    reader.check()
    return StatusAdvice(
        transaction_id=refs["RELA"],
        account_servicer_transaction_id=refs.get("ASRF"),
        market_infrastructure_transaction_id=refs.get("MITI"),
        processing=statuses.get("IPRC"),
        matching=statuses.get("MTCH"),
        settlement=statuses.get("SETT"),
        details=details,
    )


def _read_cancelled(reader: Reader, settran: Sequence) -> dict[str, object]:
    """The cancelled instruction as a cancellation status echoes it (SETTRAN of a CAST)."""
    security = security_from(reader.need(settran, "35B", None, ReasonCode.SECURITY))
    check_security(reader, security, settran)
    return {
        "security": security,
        "quantity": quantity_from(reader.need(settran, "36B", "SETT", ReasonCode.QUANTITY)),
        "intended_settlement_date": reader.need(settran, "98a", "SETT", ReasonCode.SETTLEMENT_DATE),
        "safekeeping_account": reader.optional(settran, "97A", "SAFE"),
        "account_owner_bic": reader.optional(settran, "95P", "ACOW"),
    }


def read_details(reader: Reader, settran: Sequence) -> TransactionDetails | None:
    security = security_from(reader.need(settran, "35B", None, ReasonCode.SECURITY))
    check_security(reader, security, settran)
    quantity = quantity_from(reader.need(settran, "36B", "SETT", ReasonCode.QUANTITY))
    side = reader.code(settran, "22H", "REDE", Side)
    payment = reader.code(settran, "22H", "PAYM", Payment)
    settlement_date = reader.need(settran, "98a", "SETT", ReasonCode.SETTLEMENT_DATE)
    account = reader.optional(settran, "97A", "SAFE")
    counterparty = None
    if side is not None:
        counterparty, _, _ = counterparty_from(
            reader, settran, side, required=settran.sequence("SETPRTY") is not None
        )
    if None in (security, quantity, side, payment, settlement_date):
        return None
    return TransactionDetails(
        side=side,
        payment=payment,
        security=security,
        quantity=quantity,
        intended_settlement_date=settlement_date,
        trade_date=reader.optional(settran, "98a", "TRAD"),
        safekeeping_account=account,
        account_owner_bic=reader.optional(settran, "95P", "ACOW"),
        counterparty=counterparty,
        transaction_type=reader.optional(settran, "22F", "SETR") or "TRAD",
    )


def write_status(model: StatusAdvice) -> Sequence:
    pairs = [("IPRC", model.processing), ("MTCH", model.matching), ("SETT", model.settlement)]
    if not any(status for _, status in pairs):
        raise BuildError(
            MessageError(
                reason=ReasonCode.OTHER, path="GENL/STAT", message="an MT548 needs at least one status"
            )
        )
    details = model.details
    linked = instruction_type(details.side, details.payment) if details else None
    return S(
        "",
        S(
            "GENL",
            F("20C", "SEME", model.account_servicer_transaction_id or model.transaction_id),
            F("23G", None, "INST"),
            link("RELA", model.transaction_id, linked),
            link("ASRF", model.account_servicer_transaction_id),
            link("MITI", model.market_infrastructure_transaction_id),
            *write_statuses(pairs),
        ),
        _write_details(details) if details else None,
    )


def _write_details(details: TransactionDetails) -> Sequence:
    """Sequence B, SETTRAN, in its field order (35B, 36B, 95a, 97a, the 22a indicators, the 98a dates,
    the parties). Its safekeeping account is mandatory (sese.024's is not)."""
    _settran_account(details.safekeeping_account)
    return S(
        "SETTRAN",
        security_field(details.security),
        F("36B", "SETT", quantity_value(details.quantity)),
        F("95P", "ACOW", details.account_owner_bic),
        F("97A", "SAFE", details.safekeeping_account),
        F("22F", "SETR", details.transaction_type or "TRAD"),
        F("22H", "REDE", details.side.value),
        F("22H", "PAYM", details.payment.value),
        F("98A", "SETT", details.intended_settlement_date),
        F("98A", "TRAD", details.trade_date),
        *write_parties(details.side, details.counterparty),
    )


def _settran_account(account: str | None) -> None:
    if not account:
        raise BuildError(
            MessageError(
                reason=ReasonCode.SAFEKEEPING_ACCOUNT,
                path="SETTRAN/:97A::SAFE",
                message="MT548 gives the transaction's details (sequence SETTRAN) only with its safekeeping account",
            )
        )


def write_cancellation_status(model: CancellationStatus) -> Sequence:
    reference = model.cancellation_request_reference
    return S(
        "",
        S(
            "GENL",
            F("20C", "SEME", model.account_servicer_transaction_id or reference),
            F("23G", None, "CAST"),
            link("RELA", reference, instruction_type(model.side, model.payment)),
            link("PREV", model.transaction_id),
            link("ASRF", model.account_servicer_transaction_id),
            *write_statuses([("CPRC", model.processing)]),
        ),
        _write_cancelled(model),
    )


def _write_cancelled(model: CancellationStatus) -> Sequence | None:
    echoed = (model.security, model.quantity, model.intended_settlement_date)
    if all(value is None for value in echoed):
        if model.safekeeping_account is not None or model.account_owner_bic is not None:
            raise BuildError(
                MessageError(
                    reason=ReasonCode.OTHER,
                    path="SETTRAN",
                    message="MT548 carries the account of a cancelled instruction only with its instrument, "
                    "quantity and settlement date",
                )
            )
        return None
    if any(value is None for value in echoed):
        raise BuildError(
            MessageError(
                reason=ReasonCode.OTHER,
                path="SETTRAN",
                message="MT548 SETTRAN needs the instrument, quantity and settlement date together",
            )
        )
    _settran_account(model.safekeeping_account)
    return S(
        "SETTRAN",
        security_field(model.security),
        F("36B", "SETT", quantity_value(model.quantity)),
        F("95P", "ACOW", model.account_owner_bic),
        F("97A", "SAFE", model.safekeeping_account),
        F("22F", "SETR", "TRAD"),  # mandatory in SETTRAN; a cancelled instruction the hub took was a trade
        F("22H", "REDE", model.side.value),
        F("22H", "PAYM", model.payment.value),
        F("98A", "SETT", model.intended_settlement_date),
    )
