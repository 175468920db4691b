"""semt.002 SecuritiesBalanceCustodyReport <-> ``HoldingsStatement``.

Layout::

    SctiesBalCtdyRpt
      Pgntn/PgNb, LastPgInd
      StmtGnlDtls/StmtId, StmtDtTm/Dt, Frqcy/Cd, UpdTp/Cd, StmtBsis/Cd, ActvtyInd, SubAcctInd
      AcctOwnr/Id/AnyBIC, SfkpgAcct/Id
      BalForAcct*                                   one per security
        FinInstrmId/ISIN, Desc
        AggtBal/ShrtLngInd, Qty/Qty/Qty/Unit|FaceAmt     aggregate
        AvlblBal/Qty/Qty/Unit|FaceAmt                    available
        NotAvlblBal/Qty/Unit|FaceAmt                     not_available
        BalBrkdwn*/SubBalTp/Cd|Prtry, Qty/Qty/Unit|FaceAmt   sub_balances
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from lxml import etree

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
    w.add(aggregate, "ShrtLngInd", "LONG")
    blocks.put_quantity(w, w.add(aggregate, "Qty"), "Qty", Quantity(amount=b.aggregate, type=b.quantity_type))
    if b.available is not None:
        available = w.add(node, "AvlblBal")
        blocks.put_fin_quantity(
            w, w.add(available, "Qty"), "Qty", Quantity(amount=b.available, type=b.quantity_type)
        )
    if b.not_available is not None:
        blocks.put_fin_quantity(
            w, w.add(node, "NotAvlblBal"), "Qty", Quantity(amount=b.not_available, type=b.quantity_type)
        )
    for sub in b.sub_balances:
        breakdown = w.add(node, "BalBrkdwn")
        blocks.put_balance_type(w, breakdown, "SubBalTp", sub.balance, codes.BALANCE_12)
        quantity = w.path(breakdown, "Qty/Qty")
        blocks.put_fin_quantity(w, quantity, "Qty", Quantity(amount=sub.quantity, type=b.quantity_type))


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

        FinInstrmId (ISIN, Desc?)  AggtBal (ShrtLngInd, Qty/Qty/Qty/<qty>)  AvlblBal? (Qty/Qty/<qty>)
        NotAvlblBal? (Qty/<qty>)   BalBrkdwn* (SubBalTp/Cd|Prtry, Qty/Qty/Qty/<qty>)

    where ``<qty>`` is ``Unit`` or ``FaceAmt``. Content errors still name their element."""
    ns = node.ns
    element = node.element
    instrument, aggregate = element[0], element[1]
    isin = instrument[0].text
    if not isin_is_valid(isin):
        raise node.error(f"ISIN {isin} has a wrong check digit", path=local_path(instrument[0]))
    security = Security(isin=isin, description=instrument[1].text if len(instrument) > 1 else None)
    if aggregate[0].text != "LONG":
        raise node.error("a short position is not supported", path=local_path(aggregate[0]))
    kind, total = _leaf_quantity(node, aggregate[1][0][0][0], ns)
    available = not_available = None
    sub_balances = []
    for section in element[2:]:
        name = section.tag[len(ns) :]
        if name == "AvlblBal":
            available = _leaf_quantity(node, section[0][0][0], ns)[1]
        elif name == "NotAvlblBal":
            not_available = _leaf_quantity(node, section[0][0], ns)[1]
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
                SubBalanceQuantity(balance=balance, quantity=_leaf_quantity(node, section[1][0][0][0], ns)[1])
            )
    return HoldingBalance(
        security=security,
        aggregate=total,
        quantity_type=kind,
        available=available,
        not_available=not_available,
        sub_balances=tuple(sub_balances),
    )


def _leaf_quantity(node: Node, leaf: etree._Element, ns: str) -> tuple[QuantityType, Decimal]:
    raw = leaf.text
    try:
        amount = Decimal(raw)  # Decimal ignores the surrounding blanks xs:decimal allows
    except (TypeError, InvalidOperation):
        raise node.error(f"quantity {raw!r} is not a number", path=local_path(leaf)) from None
    return (QuantityType.UNIT if leaf.tag == ns + "Unit" else QuantityType.FACE_AMOUNT), amount
