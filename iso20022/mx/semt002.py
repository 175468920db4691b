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

from decimal import Decimal

from lxml import etree

from iso20022.models import HoldingBalance, HoldingsStatement, Quantity, SubBalanceQuantity
from iso20022.mx import blocks, codes
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
        blocks.put_fin_quantity(w, w.add(available, "Qty"), "Qty", Quantity(amount=b.available, type=b.quantity_type))
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
    aggregate = node["AggtBal"]
    if aggregate.text("ShrtLngInd") != "LONG":
        raise aggregate.error("a short position is not supported", path=f"{aggregate.path}/ShrtLngInd")
    quantity = blocks.get_quantity(aggregate["Qty"]["Qty"])
    available = node.opt("AvlblBal")
    not_available = node.opt("NotAvlblBal")
    return HoldingBalance(
        security=blocks.get_security(node["FinInstrmId"]),
        aggregate=quantity.amount,
        quantity_type=quantity.type,
        available=_amount(available["Qty"]) if available is not None else None,
        not_available=_amount(not_available) if not_available is not None else None,
        sub_balances=tuple(
            SubBalanceQuantity(
                balance=blocks.get_balance_type(sub["SubBalTp"]), quantity=_amount(sub["Qty"]["Qty"])
            )
            for sub in node.all("BalBrkdwn")
        ),
    )


def _amount(node: Node) -> Decimal:
    return blocks.get_fin_quantity(node["Qty"]).amount
