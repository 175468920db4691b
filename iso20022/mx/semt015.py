"""semt.015 IntraPositionMovementConfirmation <-> ``IntraPositionConfirmation``.

Layout::

    IntraPosMvmntConf
      AddtlParams/AcctOwnrTxId, AcctSvcrTxId
      AcctOwnr/AnyBIC, SfkpgAcct/Id
      FinInstrmId/ISIN, Desc
      IntraPosDtls/SttldQty/Unit|FaceAmt, SttlmDt/Dt, BalFr/Tp/Cd, BalTo/Tp/Cd
"""

from __future__ import annotations

from lxml import etree

from iso20022.models import IntraPositionConfirmation
from iso20022.mx import blocks, codes
from iso20022.mx.xmltree import Node, Writer

ROOT = "IntraPosMvmntConf"


def build(w: Writer, body: etree._Element, m: IntraPositionConfirmation) -> None:
    params = w.add(body, "AddtlParams")
    w.add(params, "AcctOwnrTxId", m.transaction_id)
    w.opt(params, "AcctSvcrTxId", m.account_servicer_transaction_id)
    blocks.put_owner(w, body, m.account_owner_bic, with_id=False)
    blocks.put_account(w, body, m.safekeeping_account)
    blocks.put_security(w, body, m.security)
    details = w.add(body, "IntraPosDtls")
    blocks.put_fin_quantity(w, details, "SttldQty", m.settled_quantity)
    blocks.put_date(w, details, "SttlmDt", m.settlement_date)
    blocks.put_balance_type(w, w.add(details, "BalFr"), "Tp", m.from_balance, codes.BALANCE_11)
    blocks.put_balance_type(w, w.add(details, "BalTo"), "Tp", m.to_balance, codes.BALANCE_11)


def parse(node: Node, business_message_id: str | None) -> IntraPositionConfirmation:
    params = node.opt("AddtlParams")
    transaction_id = params.opt_text("AcctOwnrTxId") if params is not None else None
    if transaction_id is None:
        raise node.error("the account owner's transaction id is missing", path=f"{node.path}/AddtlParams")
    account = blocks.get_account(node)
    if account is None:
        raise node.error("the safekeeping account is missing", path=f"{node.path}/SfkpgAcct")
    details = node["IntraPosDtls"]
    return IntraPositionConfirmation(
        transaction_id=transaction_id,
        account_servicer_transaction_id=params.opt_text("AcctSvcrTxId"),
        account_owner_bic=blocks.get_owner(node),
        safekeeping_account=account,
        security=blocks.get_security(node["FinInstrmId"]),
        settled_quantity=blocks.get_fin_quantity(details["SttldQty"]),
        settlement_date=blocks.get_date(details["SttlmDt"]),
        from_balance=blocks.get_balance_type(details["BalFr"]["Tp"]),
        to_balance=blocks.get_balance_type(details["BalTo"]["Tp"]),
    )
