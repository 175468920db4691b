"""Building blocks shared by several MX messages: instrument, quantity, dates, parties, statuses.

Each ``put_*`` writes one ISO component under a parent element, each ``get_*`` reads it back into the
model. Component names in comments are the ISO 20022 type names of the 2022 versions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from lxml import etree

from iso20022.errors import BuildError, MessageError, ReasonCode
from iso20022.identifiers import isin_is_valid
from iso20022.models import (
    Amount,
    Counterparty,
    CreditDebit,
    Quantity,
    QuantityType,
    Reason,
    Security,
    Side,
    SubBalance,
)
from iso20022.mx.xmltree import Node, Writer

# Securities transaction types the hub accepts (present in the code lists of every message it speaks).
HUB_TRANSACTION_TYPES = frozenset(
    {
        "TRAD",
        "OWNI",
        "OWNE",
        "REAL",
        "COLI",
        "COLO",
        "SECB",
        "SECL",
        "REPU",
        "RVPO",
        "TRPO",
        "TRVO",
        "CORP",
        "ISSU",
        "REDM",
        "PORT",
    }
)


# ------------------------------------------------------------------------------- instrument, quantity


def put_security(w: Writer, parent: etree._Element, security: Security) -> None:
    """``FinInstrmId`` (SecurityIdentification19)."""
    node = w.add(parent, "FinInstrmId")
    w.add(node, "ISIN", security.isin)
    w.opt(node, "Desc", security.description)


def get_security(node: Node) -> Security:
    isin = node.text("ISIN")
    if not isin_is_valid(isin):
        raise node.error(f"ISIN {isin} has a wrong check digit", path=f"{node.path}/ISIN")
    return Security(isin=isin, description=node.opt_text("Desc"))


def put_fin_quantity(w: Writer, parent: etree._Element, name: str, quantity: Quantity) -> None:
    """``<name>`` as FinancialInstrumentQuantity33Choice: ``Unit`` or ``FaceAmt``."""
    node = w.add(parent, name)
    w.add(node, "Unit" if quantity.type is QuantityType.UNIT else "FaceAmt", quantity.amount)


def get_fin_quantity(node: Node) -> Quantity:
    kind = node.choice()
    if kind not in ("Unit", "FaceAmt"):
        raise node.error(f"quantity as {kind} is not supported (Unit or FaceAmt)")
    return Quantity(
        amount=node.decimal(kind),
        type=QuantityType.UNIT if kind == "Unit" else QuantityType.FACE_AMOUNT,
    )


def put_quantity(w: Writer, parent: etree._Element, name: str, quantity: Quantity) -> None:
    """``<name>`` as Quantity51Choice: ``Qty`` / FinancialInstrumentQuantity33Choice."""
    put_fin_quantity(w, w.add(parent, name), "Qty", quantity)


def get_quantity(node: Node) -> Quantity:
    return get_fin_quantity(node["Qty"])


# ---------------------------------------------------------------------------------------------- dates


def put_date(w: Writer, parent: etree._Element, name: str, date: dt.date) -> None:
    """``<name>/Dt`` (DateAndDateTime2Choice)."""
    w.path(parent, f"{name}/Dt", date)


def get_date(node: Node) -> dt.date:
    return node.date("Dt")


def put_choice_date(w: Writer, parent: etree._Element, name: str, date: dt.date) -> None:
    """``<name>/Dt/Dt``: a SettlementDate / TradeDate choice holding a DateAndDateTime2Choice."""
    w.path(parent, f"{name}/Dt/Dt", date)


def get_choice_date(node: Node) -> dt.date:
    return node["Dt"].date("Dt")


# ------------------------------------------------------------------------------- accounts and parties


def put_account(w: Writer, parent: etree._Element, account: str | None) -> None:
    """``SfkpgAcct/Id`` (SecuritiesAccount19)."""
    if account is not None:
        w.path(parent, "SfkpgAcct/Id", account)


def get_account(node: Node) -> str | None:
    found = node.opt("SfkpgAcct")
    return found.text("Id") if found else None


def put_owner(w: Writer, parent: etree._Element, bic: str | None, *, with_id: bool = True) -> None:
    """``AcctOwnr`` as PartyIdentification144 (``Id/AnyBIC``) or, ``with_id=False``,
    PartyIdentification127Choice (``AnyBIC``)."""
    if bic is not None:
        w.path(parent, "AcctOwnr/Id/AnyBIC" if with_id else "AcctOwnr/AnyBIC", bic)


def get_owner(node: Node) -> str | None:
    owner = node.opt("AcctOwnr")
    if owner is None:
        return None
    if "Id" in owner:
        owner = owner["Id"]
    return owner.text("AnyBIC")


def put_party_and_account(
    w: Writer, parent: etree._Element, name: str, bic: str | None, account: str | None
) -> None:
    """``<name>`` as PartyIdentificationAndAccount: ``Id/AnyBIC`` and ``SfkpgAcct/Id``. A party known
    only by its account is identified by that account, issued by the hub (``Id/PrtryId``)."""
    node = w.add(parent, name)
    if bic is not None:
        w.path(node, "Id/AnyBIC", bic)
    else:
        proprietary = w.path(node, "Id/PrtryId")
        w.add(proprietary, "Id", account)
        w.add(proprietary, "Issr", "HUB")
    put_account(w, node, account)


def put_settlement_parties(w: Writer, parent: etree._Element, name: str, party: Counterparty) -> None:
    """``DlvrgSttlmPties`` / ``RcvgSttlmPties``: Dpstry = CSD, Pty1 = counterparty and its account,
    Pty2 = its client."""
    node = w.add(parent, name)
    w.path(node, "Dpstry/Id/AnyBIC", party.csd_bic)
    put_party_and_account(w, node, "Pty1", party.bic, party.safekeeping_account)
    if party.client_bic is not None or party.client_account is not None:
        put_party_and_account(w, node, "Pty2", party.client_bic, party.client_account)


def party_bic(party: Node, *, required: bool = True) -> str | None:
    """The BIC of a party, or (not ``required``) ``None`` for one known only by its account, as
    ``put_party_and_account`` writes it. Any other proprietary id is refused, not dropped: the hub and
    the CSDs it instructs know parties by BIC."""
    identifier = party["Id"]
    bic = identifier.opt_text("AnyBIC")
    if bic is not None:
        return bic
    proprietary = identifier.opt("PrtryId")
    by_account = (
        proprietary is not None
        and proprietary.opt_text("Issr") == "HUB"
        and proprietary.opt_text("Id") == get_account(party)
    )
    if required or not by_account:
        raise party.error("a party is identified by its BIC (AnyBIC) here, not by a proprietary id")
    return None


def get_settlement_parties(node: Node) -> Counterparty:
    depository = node["Dpstry"]["Id"]
    pty1 = node["Pty1"]
    client_bic = client_account = None
    pty2 = node.opt("Pty2")
    if pty2 is not None:
        client_bic = party_bic(pty2, required=False)
        client_account = get_account(pty2)
    return Counterparty(
        bic=party_bic(pty1),
        csd_bic=depository.text("AnyBIC"),
        safekeeping_account=get_account(pty1),
        client_bic=client_bic,
        client_account=client_account,
    )


def counterparty_side_name(side: Side) -> str:
    """The settlement parties block that describes the counterparty: the receivers of a delivery, the
    deliverers of a receipt."""
    return "RcvgSttlmPties" if side is Side.DELIVER else "DlvrgSttlmPties"


# --------------------------------------------------------------------------------------------- amounts


def put_amount(
    w: Writer, parent: etree._Element, name: str, amount: Amount, credit_debit: CreditDebit
) -> None:
    """``<name>`` as AmountAndDirection: ``Amt Ccy=`` and ``CdtDbtInd``. The direction says which way the
    cash goes, so the amount itself is never negative, and has at most five decimals."""
    if amount.value < 0 or amount.value.normalize().as_tuple().exponent < -5:
        raise BuildError(
            MessageError(
                reason=ReasonCode.AMOUNT,
                path=f"{name}/Amt",
                message=f"amount {amount.value} is negative or has more than 5 decimal places",
            )
        )
    node = w.add(parent, name)
    w.add(node, "Amt", amount.value, Ccy=amount.currency)
    w.add(node, "CdtDbtInd", credit_debit.value)


def get_amount(node: Node) -> Amount:
    amount = node["Amt"]
    return Amount(value=node.decimal("Amt"), currency=amount.attr("Ccy"))


def cash_direction(side: Side) -> CreditDebit:
    """A deliverer against payment receives cash (credit); a receiver pays (debit)."""
    return CreditDebit.CREDIT if side is Side.DELIVER else CreditDebit.DEBIT


def put_transaction_type(w: Writer, parent: etree._Element, code: str) -> None:
    if code not in HUB_TRANSACTION_TYPES:
        raise BuildError(
            MessageError(
                reason=ReasonCode.UNSUPPORTED,
                message=f"securities transaction type {code!r} is not one the hub uses",
                path="SttlmParams/SctiesTxTp",
            )
        )
    w.path(parent, "SctiesTxTp/Cd", code)


def get_transaction_type(node: Node) -> str:
    chosen = node["SctiesTxTp"]
    if "Cd" in chosen:
        return chosen.text("Cd")
    return chosen["Prtry"].text("Id")


# ------------------------------------------------------------------------------------ status reasons


def _check_code(reason: Reason, allowed: frozenset[str], where: str) -> None:
    if reason.issuer is None and reason.code not in allowed:
        raise BuildError(
            MessageError(
                reason=ReasonCode.OTHER,
                message=f"reason code {reason.code!r} is not in the ISO code list of {where}; "
                "give it an issuer to send it as a proprietary code",
                path=where,
            )
        )


def put_reasons(
    w: Writer, parent: etree._Element, name: str, reasons: Iterable[Reason], allowed: frozenset[str]
) -> None:
    """A status with reasons (e.g. RejectionStatus39Choice): ``NoSpcfdRsn/NORE`` when there are none,
    else one ``Rsn`` per reason with ``Cd/Cd`` (ISO code) or ``Cd/Prtry`` (proprietary, with issuer)."""
    node = w.add(parent, name)
    reasons = tuple(reasons)
    if not reasons:
        w.add(node, "NoSpcfdRsn", "NORE")
        return
    for reason in reasons:
        _check_code(reason, allowed, name)
        rsn = w.add(node, "Rsn")
        code = w.add(rsn, "Cd")
        if reason.issuer is None:
            w.add(code, "Cd", reason.code)
        else:
            prtry = w.add(code, "Prtry")
            w.add(prtry, "Id", reason.code)
            w.add(prtry, "Issr", reason.issuer)
        w.opt(rsn, "AddtlRsnInf", reason.narrative)


def get_reasons(node: Node) -> tuple[Reason, ...]:
    if "NoSpcfdRsn" in node:
        return ()
    reasons = []
    for rsn in node.all("Rsn"):
        code = rsn["Cd"]
        narrative = rsn.opt_text("AddtlRsnInf")
        if "Cd" in code:
            reasons.append(Reason(code=code.text("Cd"), narrative=narrative))
        else:
            prtry = code["Prtry"]
            reasons.append(Reason(code=prtry.text("Id"), narrative=narrative, issuer=prtry.text("Issr")))
    return tuple(reasons)


def put_proprietary_reason(w: Writer, parent: etree._Element, name: str, reasons: tuple[Reason, ...]) -> None:
    """A status carrying at most one proprietary reason (ProprietaryReason4: ``Rsn/Id+Issr``,
    ``AddtlRsnInf``), e.g. ``Mtchd``, ``CxlReqd``."""
    if len(reasons) > 1:
        raise BuildError(
            MessageError(reason=ReasonCode.OTHER, message=f"{name} carries at most one reason", path=name)
        )
    node = w.add(parent, name)
    for reason in reasons:
        if reason.issuer is None:
            raise BuildError(
                MessageError(
                    reason=ReasonCode.OTHER,
                    message=f"{name} has only proprietary reasons: give {reason.code!r} an issuer",
                    path=name,
                )
            )
        rsn = w.add(node, "Rsn")
        w.add(rsn, "Id", reason.code)
        w.add(rsn, "Issr", reason.issuer)
        w.opt(node, "AddtlRsnInf", reason.narrative)


def get_proprietary_reason(node: Node) -> tuple[Reason, ...]:
    rsn = node.opt("Rsn")
    if rsn is None:
        return ()
    return (Reason(code=rsn.text("Id"), issuer=rsn.text("Issr"), narrative=node.opt_text("AddtlRsnInf")),)


def put_status_choice(
    w: Writer,
    parent: etree._Element,
    name: str,
    status_element: str,
    reasons: tuple[Reason, ...],
    code_lists: dict[str, frozenset[str] | None],
) -> None:
    """``<name>/<status_element>``: a status choice whose element either takes reasons from a code list
    (``code_lists[element]`` is the list) or one proprietary reason (``None``)."""
    node = w.add(parent, name)
    allowed = code_lists[status_element]
    if allowed is None:
        put_proprietary_reason(w, node, status_element, reasons)
    else:
        put_reasons(w, node, status_element, reasons, allowed)


def get_status_choice(
    node: Node, code_lists: dict[str, frozenset[str] | None], to_code: Callable[[str], object]
) -> tuple[object, tuple[Reason, ...]]:
    element, chosen = node.only_child()
    if element not in code_lists:
        raise chosen.error(f"status {element} is not supported")
    reasons = get_proprietary_reason(chosen) if code_lists[element] is None else get_reasons(chosen)
    return to_code(element), reasons


def unsupported_status(code: object, where: str) -> BuildError:
    return BuildError(
        MessageError(
            reason=ReasonCode.OTHER, message=f"status {code} cannot be expressed in {where}", path=where
        )
    )


def all_or_none(where: str, **values: object) -> bool:
    """True when every value is given, False when none is; a ``BuildError`` for a partial set, which
    the message cannot carry."""
    given = [name for name, value in values.items() if value is not None]
    if len(given) == len(values):
        return True
    if not given:
        return False
    missing = sorted(set(values) - set(given))
    raise BuildError(
        MessageError(
            reason=ReasonCode.OTHER,
            message=f"{where} needs {', '.join(values)} together; missing {', '.join(missing)}",
            path=where,
        )
    )


def needs_details(where: str, what: str) -> BuildError:
    return BuildError(
        MessageError(reason=ReasonCode.OTHER, message=f"{what} can only be sent inside {where}", path=where)
    )


def put_balance_type(
    w: Writer, parent: etree._Element, name: str, balance: SubBalance, allowed: frozenset[str]
) -> None:
    """A sub-balance type choice: ``Cd`` when the message's code list has it, else ``Prtry`` issued by the
    hub (``Id`` + ``Issr=HUB``)."""
    node = w.add(parent, name)
    if balance.value in allowed:
        w.add(node, "Cd", balance.value)
    else:
        prtry = w.add(node, "Prtry")
        w.add(prtry, "Id", balance.value)
        w.add(prtry, "Issr", "HUB")


def get_balance_type(node: Node) -> SubBalance:
    code = node.opt_text("Cd")
    if code is None:
        code = node["Prtry"].text("Id")
    try:
        return SubBalance(code)
    except ValueError:
        raise node.error(f"sub-balance type {code} is not one the hub knows") from None


def check_code(value: str, allowed: frozenset[str], where: str) -> str:
    if value not in allowed:
        raise BuildError(
            MessageError(
                reason=ReasonCode.OTHER,
                message=f"{value!r} is not allowed in {where} (one of {', '.join(sorted(allowed))})",
                path=where,
            )
        )
    return value


def put_pagination(w: Writer, parent: etree._Element, page_number: int, last_page: bool) -> None:
    if not 1 <= page_number <= 99999:
        raise BuildError(
            MessageError(
                reason=ReasonCode.OTHER, message=f"page number {page_number} out of range", path="Pgntn"
            )
        )
    node = w.add(parent, "Pgntn")
    w.add(node, "PgNb", page_number)
    w.add(node, "LastPgInd", last_page)


def get_pagination(node: Node) -> tuple[int, bool]:
    return int(node.text("PgNb")), get_bool(node, "LastPgInd")


def get_bool(node: Node, name: str) -> bool:
    raw = node.text(name).strip()
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise node.error(f"{name} is not a yes/no indicator: {raw!r}", path=f"{node.path}/{name}")


def code_of(node: Node, name: str) -> str:
    """The ``Cd`` (or proprietary ``Prtry/Id``) of a code-or-proprietary choice."""
    chosen = node[name]
    code = chosen.opt_text("Cd")
    return code if code is not None else chosen["Prtry"].text("Id")
