"""semt.002 SecuritiesBalanceCustodyReport <-> ``HoldingsStatement``.

Layout::

    SctiesBalCtdyRpt
      Pgntn/PgNb, LastPgInd
      StmtGnlDtls/StmtId, StmtDtTm/Dt, Frqcy/Cd, UpdTp/Cd, StmtBsis/Cd, ActvtyInd, SubAcctInd
      AcctOwnr/Id/AnyBIC, SfkpgAcct/Id
      BalForAcct*                                   one per security
        FinInstrmId/ISIN, Desc
        AggtBal/ShrtLngInd, Qty/Qty/Qty/Unit|FaceAmt     aggregate
        AvlblBal/ShrtLngInd?, Qty/Qty/Unit|FaceAmt       available
        NotAvlblBal/Qty/Unit|FaceAmt                     not_available
        BalBrkdwn*/SubBalTp/Cd|Prtry, Qty/ShrtLngInd?, Qty/Qty/Unit|FaceAmt   sub_balances

Quantities in semt.002 are unsigned: a short (negative) balance is written as its absolute quantity with
``ShrtLngInd`` ``SHOR``, and read back as negative. ``AggtBal`` always carries the indicator (``LONG`` or
``SHOR``); ``AvlblBal`` and a ``BalBrkdwn`` quantity carry it only when short (absent reads as long).
``NotAvlblBal`` has no indicator in the schema, so a negative not-available balance cannot be written
(``BuildError``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from lxml import etree

from iso20022.errors import BuildError, MessageError, ReasonCode
from iso20022.identifiers import isin_is_valid
from iso20022.models import (
    HoldingBalance,
    HoldingsStatement,
    Quantity,
    QuantityType,
    Security,
    SubBalance,
    SubBalanceQuantity,
)
from iso20022.mx import blocks, codes
from iso20022.mx.safexml import local_path
from iso20022.mx.xmltree import Node, Writer

ROOT = "SctiesBalCtdyRpt"
SHORT = "SHOR"
LONG = "LONG"


def build(w: Writer, body: etree._Element, m: HoldingsStatement) -> None:
    blocks.put_pagination(w, body, m.page_number, m.last_page)
    general = w.add(body, "StmtGnlDtls")
    w.opt(general, "StmtId", m.statement_id)
    blocks.put_date(w, general, "StmtDtTm", m.statement_date)
    w.path(general, "Frqcy/Cd", blocks.check_code(m.frequency, codes.STATEMENT_FREQUENCIES, "Frqcy"))
    w.path(general, "UpdTp/Cd", blocks.check_code(m.update_type, codes.STATEMENT_UPDATE_TYPES, "UpdTp"))
    w.path(general, "StmtBsis/Cd", blocks.check_code(m.basis, codes.HOLDINGS_BASES, "StmtBsis"))
    w.add(general, "ActvtyInd", bool(m.balances))
    w.add(general, "SubAcctInd", False)
    blocks.put_owner(w, body, m.account_owner_bic)
    blocks.put_account(w, body, m.safekeeping_account)
    for balance in m.balances:
        _build_balance(w, body, balance)


def _build_balance(w: Writer, body: etree._Element, b: HoldingBalance) -> None:
    node = w.add(body, "BalForAcct")
    blocks.put_security(w, node, b.security)
    aggregate = w.add(node, "AggtBal")
    w.add(aggregate, "ShrtLngInd", SHORT if b.aggregate < 0 else LONG)
    blocks.put_quantity(
        w, w.add(aggregate, "Qty"), "Qty", Quantity(amount=abs(b.aggregate), type=b.quantity_type)
    )
    if b.available is not None:
        available = w.add(node, "AvlblBal")
        _put_short(w, available, b.available)
        blocks.put_fin_quantity(
            w, w.add(available, "Qty"), "Qty", Quantity(amount=abs(b.available), type=b.quantity_type)
        )
    if b.not_available is not None:
        if b.not_available < 0:
            raise BuildError(
                MessageError(
                    reason=ReasonCode.QUANTITY,
                    path="BalForAcct/NotAvlblBal",
                    message=f"{b.security.isin}: a short not-available balance ({b.not_available}) cannot be "
                    "written: NotAvlblBal carries no ShrtLngInd in semt.002",
                )
            )
        blocks.put_fin_quantity(
            w, w.add(node, "NotAvlblBal"), "Qty", Quantity(amount=b.not_available, type=b.quantity_type)
        )
    for sub in b.sub_balances:
        breakdown = w.add(node, "BalBrkdwn")
        blocks.put_balance_type(w, breakdown, "SubBalTp", sub.balance, codes.BALANCE_12)
        quantity = w.add(breakdown, "Qty")
        _put_short(w, quantity, sub.quantity)
        blocks.put_fin_quantity(
            w, w.add(quantity, "Qty"), "Qty", Quantity(amount=abs(sub.quantity), type=b.quantity_type)
        )


def _put_short(w: Writer, parent: etree._Element, amount: Decimal) -> None:
    """The optional ``ShrtLngInd`` of ``AvlblBal`` and ``BalBrkdwn/Qty``: written only when short."""
    if amount < 0:
        w.add(parent, "ShrtLngInd", SHORT)


def parse(node: Node, business_message_id: str | None) -> HoldingsStatement:
    page_number, last_page = blocks.get_pagination(node["Pgntn"])
    general = node["StmtGnlDtls"]
    account = blocks.get_account(node)
    if account is None:
        raise node.error("the safekeeping account is missing", path=f"{node.path}/SfkpgAcct")
    return HoldingsStatement(
        statement_date=blocks.get_date(general["StmtDtTm"]),
        statement_id=general.opt_text("StmtId"),
        frequency=blocks.code_of(general, "Frqcy"),
        update_type=blocks.code_of(general, "UpdTp"),
        basis=blocks.code_of(general, "StmtBsis"),
        page_number=page_number,
        last_page=last_page,
        account_owner_bic=blocks.get_owner(node),
        safekeeping_account=account,
        balances=tuple(_parse_balance(b) for b in node.all("BalForAcct")),
    )


def _parse_balance(node: Node) -> HoldingBalance:
    """One ``BalForAcct``, read by position: statements run to thousands of lines, and the usage
    guideline (validated before any parser runs) fixes the layout of each line exactly::

        FinInstrmId (ISIN, Desc?)  AggtBal (ShrtLngInd, Qty/Qty/Qty/<qty>)
        AvlblBal? (ShrtLngInd?, Qty/Qty/<qty>)  NotAvlblBal? (Qty/<qty>)
        BalBrkdwn* (SubBalTp/Cd|Prtry, Qty (ShrtLngInd?, Qty/Qty/<qty>))

    where ``<qty>`` is ``Unit`` or ``FaceAmt``. Content errors still name their element."""
    ns = node.ns
    element = node.element
    instrument, aggregate = element[0], element[1]
    isin = instrument[0].text
    if not isin_is_valid(isin):
        raise node.error(f"ISIN {isin} has a wrong check digit", path=local_path(instrument[0]))
    security = Security(isin=isin, description=instrument[1].text if len(instrument) > 1 else None)
    kind, total = _leaf_quantity(node, aggregate[1][0][0][0], ns)
    if aggregate[0].text == SHORT:
        total = -total
    available = not_available = None
    sub_balances = []
    for section in element[2:]:
        name = section.tag[len(ns) :]
        if name == "AvlblBal":
            available = _signed_quantity(node, section, ns, kind)
        elif name == "NotAvlblBal":
            not_available = _of_kind(node, _leaf_quantity(node, section[0][0], ns), kind, section[0][0])
        else:  # BalBrkdwn
            chosen = section[0][0]
            code = chosen.text if chosen.tag == ns + "Cd" else chosen[0].text
            try:
                balance = SubBalance(code)
            except ValueError:
                raise node.error(
                    f"sub-balance type {code} is not one the hub knows", path=local_path(chosen)
                ) from None
            sub_balances.append(
                SubBalanceQuantity(balance=balance, quantity=_signed_quantity(node, section[1], ns, kind))
            )
    return HoldingBalance(
        security=security,
        aggregate=total,
        quantity_type=kind,
        available=available,
        not_available=not_available,
        sub_balances=tuple(sub_balances),
    )


def _signed_quantity(node: Node, parent: etree._Element, ns: str, kind: QuantityType) -> Decimal:
    """``(ShrtLngInd?, Qty/Qty/<qty>)``: the quantity, negative when the indicator says ``SHOR``; of
    ``kind``, the aggregate's."""
    short = parent[0].tag == ns + "ShrtLngInd" and parent[0].text == SHORT
    quantity = parent[1] if parent[0].tag == ns + "ShrtLngInd" else parent[0]
    amount = _of_kind(node, _leaf_quantity(node, quantity[0][0], ns), kind, quantity[0][0])
    return -amount if short else amount


def _of_kind(node: Node, quantity: tuple[QuantityType, Decimal], kind: QuantityType, leaf) -> Decimal:
    """The amount of a balance of the same kind as the aggregate (units, or face amount): one of the other
    kind cannot be added to or compared with it."""
    if quantity[0] is not kind:
        raise node.error(
            f"a balance in {quantity[0].value} under an aggregate in {kind.value}", path=local_path(leaf)
        )
    return quantity[1]


def _leaf_quantity(node: Node, leaf: etree._Element, ns: str) -> tuple[QuantityType, Decimal]:
    raw = leaf.text
    try:
        amount = Decimal(raw)  # Decimal ignores the surrounding blanks xs:decimal allows
    except (TypeError, InvalidOperation):
        raise node.error(f"quantity {raw!r} is not a number", path=local_path(leaf)) from None
    return (QuantityType.UNIT if leaf.tag == ns + "Unit" else QuantityType.FACE_AMOUNT), amount
