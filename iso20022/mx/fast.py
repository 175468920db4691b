"""Fast readers for the messages on the leg path: the AppHdr, semt.013 / semt.014 / semt.015 and sese.023 /
sese.024 / sese.025.

The general readers (``head.parse``, ``<message>.parse``) walk a validated tree through ``Node``, one
Python object per step. These read the same tree in one pass instead: the body is flattened into a dict
from local path (``QtyAndAcctDtls/SttldQty/Qty/Unit``) to text, and the model is built from that dict.

They run only on trees that passed the usage-guideline schema, and they return ``None`` whenever the
message is anything but the plain case (a repeated element, an empty value, a value the general reader
would refuse, a cash amount): ``codec.parse`` then reads it with the general reader, which produces the
model or the exact error it always did. ``tests/iso20022/test_mx_fast.py`` proves with hypothesis that
whatever a fast reader returns equals what the general reader returns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from lxml import etree

from iso20022.identifiers import isin_is_valid
from iso20022.models import (
    BusinessHeader,
    Counterparty,
    IntraPositionConfirmation,
    IntraPositionMovement,
    IntraPositionStatus,
    MatchingStatus,
    Message,
    Payment,
    ProcessingStatus,
    Quantity,
    QuantityType,
    Reason,
    Security,
    SettlementConfirmation,
    SettlementInstruction,
    SettlementStatus,
    Side,
    StatusAdvice,
    SubBalance,
    TransactionDetails,
)
from iso20022.mx import codes

Flat = dict[str, str | None]

_FALL_BACK = (KeyError, ValueError, InvalidOperation, TypeError, AttributeError)


class _Repeated(Exception):
    """An element name occurs twice under one parent: the general reader handles it."""


# ------------------------------------------------------------------------------------------- header


def read_header(element: etree._Element) -> BusinessHeader | None:
    """``head.parse`` for a plain AppHdr (parties by ``FIId/FinInstnId/BICFI``), else ``None``."""
    ns = element.tag[: element.tag.index("}") + 1]
    cut = len(ns)
    found: dict[str, etree._Element] = {}
    for child in element:
        name = child.tag[cut:]
        if name in found:
            return None
        found[name] = child
    try:
        created = dt.datetime.fromisoformat(_leaf_text(found["CreDt"]).strip())
        if created.tzinfo is None:
            created = created.replace(tzinfo=dt.UTC)
        related = found.get("Rltd")
        related_id = None
        if related is not None:
            related_id = _leaf_text(_first(related, ns + "BizMsgIdr"))
        service = found.get("BizSvc")
        return BusinessHeader(
            from_bic=_bic(found["Fr"], ns),
            to_bic=_bic(found["To"], ns),
            business_message_id=_leaf_text(found["BizMsgIdr"]),
            message_definition_id=_leaf_text(found["MsgDefIdr"]),
            business_service=service.text if service is not None else None,
            creation=created,
            related_business_message_id=related_id,
        )
    except _FALL_BACK:
        return None


def _bic(party: etree._Element, ns: str) -> str:
    """``Fr`` / ``To``: ``FIId/FinInstnId/BICFI`` when each step is the only child, else ``KeyError``."""
    node = party
    for name in ("FIId", "FinInstnId", "BICFI"):
        if len(node) != 1 or node[0].tag != ns + name:
            raise KeyError(name)
        node = node[0]
    return _leaf_text(node)


def _first(element: etree._Element, tag: str) -> etree._Element:
    for child in element:
        if child.tag == tag:
            return child
    raise KeyError(tag)


def _leaf_text(element: etree._Element) -> str:
    if len(element):
        raise KeyError(element.tag)
    value = element.text
    if value is None:
        raise KeyError(element.tag)
    return value


# ---------------------------------------------------------------------------------------------- body


def flatten(element: etree._Element) -> Flat | None:
    """Every element under ``element`` by its local path: leaves map to their text, branches to
    ``None``. ``None`` when a path occurs twice (repeated elements are for the general reader).

    One pass over the descendants in document order, each finding its parent's path by the parent's
    element (lxml hands back the same proxy object while it is referenced, as here)."""
    out: Flat = {}
    cut = element.tag.index("}") + 1
    prefixes = {element: ""}
    for child in element.iterdescendants():
        key = prefixes[child.getparent()] + child.tag[cut:]
        if key in out:
            return None
        if len(child):
            out[key] = None
            prefixes[child] = key + "/"
        else:
            out[key] = child.text
    return out


def _text(f: Flat, key: str) -> str:
    value = f[key]
    if value is None:
        raise KeyError(key)
    return value


def _decimal(f: Flat, key: str) -> Decimal:
    return Decimal(_text(f, key).strip())


def _date(f: Flat, key: str) -> dt.date:
    return dt.date.fromisoformat(_text(f, key).strip())


def _security(f: Flat, base: str = "") -> Security:
    isin = _text(f, base + "FinInstrmId/ISIN")
    if not isin_is_valid(isin):
        raise ValueError(isin)
    return Security(isin=isin, description=f.get(base + "FinInstrmId/Desc"))


def _fin_quantity(f: Flat, base: str) -> Quantity:
    if base + "/Unit" in f:
        return Quantity(amount=_decimal(f, base + "/Unit"), type=QuantityType.UNIT)
    return Quantity(amount=_decimal(f, base + "/FaceAmt"), type=QuantityType.FACE_AMOUNT)


def _account(f: Flat, base: str) -> str | None:
    return _text(f, base + "SfkpgAcct/Id") if base + "SfkpgAcct" in f else None


def _owner(f: Flat, base: str) -> str | None:
    if base + "AcctOwnr" not in f:
        return None
    if base + "AcctOwnr/Id" in f:
        return _text(f, base + "AcctOwnr/Id/AnyBIC")
    return _text(f, base + "AcctOwnr/AnyBIC")


def _transaction_type(f: Flat) -> str:
    if "SttlmParams/SctiesTxTp/Cd" in f:
        return _text(f, "SttlmParams/SctiesTxTp/Cd")
    return _text(f, "SttlmParams/SctiesTxTp/Prtry/Id")


def _parties(f: Flat, name: str) -> Counterparty:
    base = name + "/"
    client_bic = client_account = None
    if base + "Pty2" in f:
        client_bic, client_account = _client(f, base + "Pty2/")
    return Counterparty(
        bic=_text(f, base + "Pty1/Id/AnyBIC"),
        csd_bic=_text(f, base + "Dpstry/Id/AnyBIC"),
        safekeeping_account=_account(f, base + "Pty1/"),
        client_bic=client_bic,
        client_account=client_account,
    )


def _client(f: Flat, base: str) -> tuple[str | None, str | None]:
    """(BIC, account) of a client party: by BIC, or known only by its account as the hub writes it
    (``PrtryId`` issued by ``HUB``); any other proprietary id is left to the general reader."""
    account = _account(f, base)
    bic = f.get(base + "Id/AnyBIC")
    if bic is None and (f.get(base + "Id/PrtryId/Issr") != "HUB" or f.get(base + "Id/PrtryId/Id") != account):
        raise KeyError(base + "Id/AnyBIC")
    return bic, account


def _counterparty_side(side: Side) -> str:
    return "RcvgSttlmPties" if side is Side.DELIVER else "DlvrgSttlmPties"


def _balance(f: Flat, base: str) -> SubBalance:
    code = f.get(base + "/Cd")
    if code is None:
        code = _text(f, base + "/Prtry/Id")
    return SubBalance(code)


def _sese023(f: Flat, business_message_id: str | None) -> SettlementInstruction | None:
    if "SttlmAmt" in f:
        return None
    side = Side(_text(f, "SttlmTpAndAddtlParams/SctiesMvmntTp"))
    counterparty = _parties(f, _counterparty_side(side))
    own = "DlvrgSttlmPties" if side is Side.DELIVER else "RcvgSttlmPties"
    own_csd = client_bic = client_account = None
    if own in f:
        if own + "/Dpstry" in f:
            own_csd = _text(f, own + "/Dpstry/Id/AnyBIC")
        if own + "/Pty1" in f:
            return None  # the sender's own party: the general reader checks it against the owner
        if own + "/Pty2" in f:
            client_bic, client_account = _client(f, own + "/Pty2/")
    account = _account(f, "QtyAndAcctDtls/")
    owner = _owner(f, "QtyAndAcctDtls/")
    payment = Payment(_text(f, "SttlmTpAndAddtlParams/Pmt"))
    if account is None or owner is None or payment is Payment.AGAINST_PAYMENT:
        return None
    return SettlementInstruction(
        transaction_id=_text(f, "TxId"),
        business_message_id=business_message_id,
        side=side,
        payment=payment,
        common_trade_reference=f.get("SttlmTpAndAddtlParams/CmonId"),
        trade_date=_date(f, "TradDtls/TradDt/Dt/Dt"),
        intended_settlement_date=_date(f, "TradDtls/SttlmDt/Dt/Dt"),
        security=_security(f),
        quantity=_fin_quantity(f, "QtyAndAcctDtls/SttlmQty/Qty"),
        safekeeping_account=account,
        account_owner_bic=owner,
        transaction_type=_transaction_type(f),
        counterparty=counterparty,
        own_csd_bic=own_csd,
        client_bic=client_bic,
        client_account=client_account,
        settlement_amount=None,
    )


def _sese025(f: Flat, business_message_id: str | None) -> SettlementConfirmation | None:
    if "SttldAmt" in f:
        return None
    side = Side(_text(f, "TxIdDtls/SctiesMvmntTp"))
    account = _account(f, "QtyAndAcctDtls/")
    owner = _owner(f, "QtyAndAcctDtls/")
    if account is None or owner is None or "TradDtls" not in f:
        return None
    return SettlementConfirmation(
        transaction_id=_text(f, "TxIdDtls/AcctOwnrTxId"),
        account_servicer_transaction_id=f.get("TxIdDtls/AcctSvcrTxId"),
        market_infrastructure_transaction_id=f.get("TxIdDtls/MktInfrstrctrTxId"),
        side=side,
        payment=Payment(_text(f, "TxIdDtls/Pmt")),
        common_trade_reference=f.get("TxIdDtls/CmonId"),
        trade_date=_date(f, "TradDtls/TradDt/Dt/Dt") if "TradDtls/TradDt" in f else None,
        effective_settlement_date=_date(f, "TradDtls/FctvSttlmDt/Dt/Dt"),
        security=_security(f),
        settled_quantity=_fin_quantity(f, "QtyAndAcctDtls/SttldQty/Qty"),
        safekeeping_account=account,
        account_owner_bic=owner,
        transaction_type=_transaction_type(f),
        counterparty=_parties(f, _counterparty_side(side)),
        settled_amount=None,
    )


def _status(
    f: Flat, name: str, code_lists: dict[str, frozenset[str] | None], codes_by_element: dict, kind: type
) -> object | None:
    """A status choice (``blocks.get_status_choice``) with at most one reason, as a ``kind`` (None when the
    message has no ``name``)."""
    if name not in f:
        return None
    chosen = [element for element in code_lists if f"{name}/{element}" in f]
    if len(chosen) != 1:
        raise KeyError(name)
    base = f"{name}/{chosen[0]}/"
    reasons: tuple[Reason, ...] = ()
    if code_lists[chosen[0]] is None:  # one proprietary reason at most
        if base + "Rsn" in f:
            reasons = (
                Reason(
                    code=_text(f, base + "Rsn/Id"),
                    issuer=_text(f, base + "Rsn/Issr"),
                    narrative=f.get(base + "AddtlRsnInf"),
                ),
            )
    elif base + "NoSpcfdRsn" not in f and base + "Rsn" in f:
        narrative = f.get(base + "Rsn/AddtlRsnInf")
        if base + "Rsn/Cd/Cd" in f:
            reasons = (Reason(code=_text(f, base + "Rsn/Cd/Cd"), narrative=narrative),)
        else:
            reasons = (
                Reason(
                    code=_text(f, base + "Rsn/Cd/Prtry/Id"),
                    narrative=narrative,
                    issuer=_text(f, base + "Rsn/Cd/Prtry/Issr"),
                ),
            )
    return kind(code=codes_by_element[chosen[0]], reasons=reasons)


def _sese024(f: Flat, business_message_id: str | None) -> StatusAdvice | None:
    processing = _status(f, "PrcgSts", codes.SESE024_PROCESSING, codes.PROCESSING_CODES, ProcessingStatus)
    matching = _status(f, "MtchgSts", codes.SESE024_MATCHING, codes.MATCHING_CODES, MatchingStatus)
    settlement = _status(f, "SttlmSts", codes.SESE024_SETTLEMENT, codes.SETTLEMENT_CODES, SettlementStatus)
    details = None
    if "TxDtls" in f:
        side = Side(_text(f, "TxDtls/SctiesMvmntTp"))
        parties = "TxDtls/" + _counterparty_side(side)
        transaction_type = f.get("TxDtls/SttlmParams/SctiesTxTp/Cd")
        if transaction_type is None:
            transaction_type = _text(f, "TxDtls/SttlmParams/SctiesTxTp/Prtry/Id")
        details = TransactionDetails(
            side=side,
            payment=Payment(_text(f, "TxDtls/Pmt")),
            security=_security(f, "TxDtls/"),
            quantity=_fin_quantity(f, "TxDtls/SttlmQty/Qty"),
            intended_settlement_date=_date(f, "TxDtls/SttlmDt/Dt/Dt"),
            trade_date=_date(f, "TxDtls/TradDt/Dt/Dt") if "TxDtls/TradDt" in f else None,
            safekeeping_account=_account(f, "TxDtls/"),
            account_owner_bic=_owner(f, "TxDtls/"),
            counterparty=_parties(f, parties) if parties in f else None,
            transaction_type=transaction_type,
        )
    return StatusAdvice(
        transaction_id=_text(f, "TxId/AcctOwnrTxId"),
        account_servicer_transaction_id=f.get("TxId/AcctSvcrTxId"),
        market_infrastructure_transaction_id=f.get("TxId/MktInfrstrctrTxId"),
        processing=processing,
        matching=matching,
        settlement=settlement,
        details=details,
    )


def _semt014(f: Flat, business_message_id: str | None) -> IntraPositionStatus | None:
    processing = _status(f, "PrcgSts", codes.SEMT014_PROCESSING, codes.PROCESSING_CODES, ProcessingStatus)
    settlement = _status(f, "SttlmSts", codes.SEMT014_SETTLEMENT, codes.SETTLEMENT_CODES, SettlementStatus)
    details = {}
    if "TxDtls" in f:
        details = {
            "account_owner_bic": _owner(f, "TxDtls/"),
            "safekeeping_account": _account(f, "TxDtls/"),
            "security": _security(f, "TxDtls/"),
            "quantity": _fin_quantity(f, "TxDtls/SttlmQty"),
            "settlement_date": _date(f, "TxDtls/SttlmDt/Dt"),
            "from_balance": _balance(f, "TxDtls/BalFr") if "TxDtls/BalFr" in f else None,
            "to_balance": _balance(f, "TxDtls/BalTo") if "TxDtls/BalTo" in f else None,
        }
    return IntraPositionStatus(
        transaction_id=_text(f, "TxId/AcctOwnrTxId"),
        account_servicer_transaction_id=f.get("TxId/AcctSvcrTxId"),
        processing=processing,
        settlement=settlement,
        **details,
    )


def _semt013(f: Flat, business_message_id: str | None) -> IntraPositionMovement | None:
    linked = None
    if "Lnkgs" in f:
        if "Lnkgs/Ref" not in f:
            return None
        linked = f.get("Lnkgs/Ref/SctiesSttlmTxId")
    account = _account(f, "")
    if account is None:
        return None
    return IntraPositionMovement(
        transaction_id=_text(f, "TxId"),
        linked_reference=linked,
        account_owner_bic=_owner(f, ""),
        safekeeping_account=account,
        security=_security(f),
        quantity=_fin_quantity(f, "IntraPosDtls/SttlmQty"),
        settlement_date=_date(f, "IntraPosDtls/SttlmDt/Dt"),
        from_balance=_balance(f, "IntraPosDtls/BalFr/Tp"),
        to_balance=_balance(f, "IntraPosDtls/BalTo/Tp"),
    )


def _semt015(f: Flat, business_message_id: str | None) -> IntraPositionConfirmation | None:
    transaction_id = f.get("AddtlParams/AcctOwnrTxId") if "AddtlParams" in f else None
    account = _account(f, "")
    if transaction_id is None or account is None:
        return None
    return IntraPositionConfirmation(
        transaction_id=transaction_id,
        account_servicer_transaction_id=f.get("AddtlParams/AcctSvcrTxId"),
        account_owner_bic=_owner(f, ""),
        safekeeping_account=account,
        security=_security(f),
        settled_quantity=_fin_quantity(f, "IntraPosDtls/SttldQty"),
        settlement_date=_date(f, "IntraPosDtls/SttlmDt/Dt"),
        from_balance=_balance(f, "IntraPosDtls/BalFr/Tp"),
        to_balance=_balance(f, "IntraPosDtls/BalTo/Tp"),
    )


_BODY_READERS: dict[str, Callable[[Flat, str | None], Message | None]] = {
    "sese.023.001.11": _sese023,
    "sese.024.001.12": _sese024,
    "sese.025.001.11": _sese025,
    "semt.013.001.06": _semt013,
    "semt.014.001.07": _semt014,
    "semt.015.001.09": _semt015,
}


def has_reader(message_id: str) -> bool:
    return message_id in _BODY_READERS


def read_body(message_id: str, element: etree._Element, business_message_id: str | None) -> Message | None:
    """The model of the validated body ``element`` of ``message_id``, or ``None`` for the general
    reader to read it."""
    reader = _BODY_READERS.get(message_id)
    if reader is None:
        return None
    f = flatten(element)
    if f is None:
        return None
    try:
        return reader(f, business_message_id)
    except _FALL_BACK:
        return None
