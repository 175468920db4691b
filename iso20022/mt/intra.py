"""MT524 (intra-position instruction) and MT508 (intra-position advice) <-> the shared models.

MT508 carries two models. Without a status it confirms a movement (``IntraPositionConfirmation``, the
semt.015 counterpart). With a ``GENL/STAT`` sequence (``:25D::IPRC//`` and/or ``:25D::SETT//`` with
``REAS`` reasons, laid out as in MT548) it is the hub's status of an MT524 (``IntraPositionStatus``, the
semt.014 counterpart); the movement details are then optional.
"""

from __future__ import annotations

from iso20022.errors import BuildError, MessageError, ReasonCode
from iso20022.models import (
    IntraPositionConfirmation,
    IntraPositionMovement,
    IntraPositionStatus,
    SubBalance,
)
from iso20022.mt.access import F, Reader, S
from iso20022.mt.fin import FinMessage, Sequence
from iso20022.mt.settlement import (
    check_quantity,
    check_security,
    links,
    quantity_from,
    quantity_value,
    read_statuses,
    security_field,
    security_from,
    write_statuses,
)


def _movement(reader: Reader, inposdet: Sequence | None, *, required: bool = True) -> dict[str, object]:
    security = security_from(reader.need(inposdet, "35B", None, ReasonCode.SECURITY, required=required))
    check_security(reader, security, inposdet)
    need = required
    quantity = quantity_from(reader.need(inposdet, "36B", "SETT", ReasonCode.QUANTITY, required=need))
    check_quantity(reader, quantity, inposdet, positive=True)
    return {
        "security": security,
        "quantity": quantity,
        "settlement_date": reader.need(inposdet, "98a", "SETT", ReasonCode.SETTLEMENT_DATE, required=need),
        "from_balance": reader.code(inposdet, "93A", "FROM", SubBalance, ReasonCode.QUANTITY, required=need),
        "to_balance": reader.code(inposdet, "93A", "TOBA", SubBalance, ReasonCode.QUANTITY, required=need),
        "safekeeping_account": reader.need(
            inposdet, "97A", "SAFE", ReasonCode.SAFEKEEPING_ACCOUNT, required=need
        ),
        "account_owner_bic": reader.optional(inposdet, "95P", "ACOW"),
    }


def _write_movement(
    security, quantity, settlement_date, from_balance, to_balance, account, owner
) -> Sequence | None:
    items = (
        F("95P", "ACOW", owner),
        F("97A", "SAFE", account),
        security_field(security),
        F("36B", "SETT", quantity_value(quantity)),
        F("93A", "FROM", from_balance.value if from_balance else None),
        F("93A", "TOBA", to_balance.value if to_balance else None),
        F("98A", "SETT", settlement_date),
    )
    return S("INPOSDET", *items) if any(items) else None


def read_movement(message: FinMessage) -> IntraPositionMovement:
    reader = Reader(message.message_type)
    genl = reader.seq(message.text, "GENL")
    seme = reader.need(genl, "20C", "SEME", ReasonCode.REFERENCE)
    reader.function(genl, "NEWM")
    inposdet = reader.seq(message.text, "INPOSDET")
    movement = _movement(reader, inposdet)
    reader.check()
    return IntraPositionMovement(transaction_id=seme, linked_reference=links(genl).get("PREV"), **movement)


def write_movement(model: IntraPositionMovement) -> Sequence:
    return S(
        "",
        S(
            "GENL",
            F("20C", "SEME", model.transaction_id),
            F("23G", None, "NEWM"),
            S("LINK", F("20C", "PREV", model.linked_reference)) if model.linked_reference else None,
        ),
        _write_movement(
            model.security,
            model.quantity,
            model.settlement_date,
            model.from_balance,
            model.to_balance,
            model.safekeeping_account,
            model.account_owner_bic,
        ),
    )


def read_advice(message: FinMessage) -> IntraPositionConfirmation | IntraPositionStatus:
    reader = Reader(message.message_type)
    genl = reader.seq(message.text, "GENL")
    reader.need(genl, "20C", "SEME", ReasonCode.REFERENCE)
    reader.function(genl, "NEWM")
    refs = links(genl)
    if "RELA" not in refs:
        reader.fail("LINK :20C::RELA// (the MT524 reference) is missing", genl, ReasonCode.REFERENCE)
    is_status = genl is not None and genl.sequence("STAT") is not None
    inposdet = reader.seq(message.text, "INPOSDET", required=not is_status)
    movement = _movement(reader, inposdet, required=not is_status)
    if is_status:
        statuses = read_statuses(reader, genl)
        reader.check()
        return IntraPositionStatus(
            transaction_id=refs["RELA"],
            account_servicer_transaction_id=refs.get("ASRF"),
            processing=statuses.get("IPRC"),
            settlement=statuses.get("SETT"),
            quantity=movement.pop("quantity"),
            **movement,
        )
    reader.check()
    return IntraPositionConfirmation(
        transaction_id=refs["RELA"],
        settled_quantity=movement.pop("quantity"),
        account_servicer_transaction_id=refs.get("ASRF"),
        **movement,
    )


def _advice_genl(transaction_id: str, servicer_id: str | None, *statuses: Sequence) -> Sequence:
    return S(
        "GENL",
        F("20C", "SEME", servicer_id or transaction_id),
        F("23G", None, "NEWM"),
        S("LINK", F("13A", "LINK", "524"), F("20C", "RELA", transaction_id)),
        S("LINK", F("20C", "ASRF", servicer_id)) if servicer_id else None,
        *statuses,
    )


def write_confirmation(model: IntraPositionConfirmation) -> Sequence:
    return S(
        "",
        _advice_genl(model.transaction_id, model.account_servicer_transaction_id),
        _write_movement(
            model.security,
            model.settled_quantity,
            model.settlement_date,
            model.from_balance,
            model.to_balance,
            model.safekeeping_account,
            model.account_owner_bic,
        ),
    )


def write_status(model: IntraPositionStatus) -> Sequence:
    statuses = write_statuses([("IPRC", model.processing), ("SETT", model.settlement)])
    if not statuses:
        raise BuildError(
            MessageError(
                reason=ReasonCode.OTHER,
                path="GENL/STAT",
                message="an MT508 status needs a processing or settlement status",
            )
        )
    return S(
        "",
        _advice_genl(model.transaction_id, model.account_servicer_transaction_id, *statuses),
        _write_movement(
            model.security,
            model.quantity,
            model.settlement_date,
            model.from_balance,
            model.to_balance,
            model.safekeeping_account,
            model.account_owner_bic,
        ),
    )
