"""semt.013 IntraPositionMovementInstruction <-> ``IntraPositionMovement``.

Layout::

    IntraPosMvmntInstr
      TxId
      Lnkgs/Ref/SctiesSttlmTxId                 linked_reference
      AcctOwnr/AnyBIC, SfkpgAcct/Id
      FinInstrmId/ISIN, Desc
      IntraPosDtls/SttlmQty/Unit|FaceAmt, SttlmDt/Dt, BalFr/Tp/Cd, BalTo/Tp/Cd
"""

from __future__ import annotations

from lxml import etree

from iso20022.models import IntraPositionMovement
from iso20022.mx import blocks, codes
from iso20022.mx.xmltree import Node, Writer

ROOT = "IntraPosMvmntInstr"


def build(w: Writer, body: etree._Element, m: IntraPositionMovement) -> None:
    w.add(body, "TxId", m.transaction_id)
    if m.linked_reference is not None:
        w.path(body, "Lnkgs/Ref/SctiesSttlmTxId", m.linked_reference)
    blocks.put_owner(w, body, m.account_owner_bic, with_id=False)
    blocks.put_account(w, body, m.safekeeping_account)
    blocks.put_security(w, body, m.security)
    details = w.add(body, "IntraPosDtls")
    blocks.put_fin_quantity(w, details, "SttlmQty", m.quantity)
    blocks.put_date(w, details, "SttlmDt", m.settlement_date)
    blocks.put_balance_type(w, w.add(details, "BalFr"), "Tp", m.from_balance, codes.BALANCE_11)
    blocks.put_balance_type(w, w.add(details, "BalTo"), "Tp", m.to_balance, codes.BALANCE_11)


def parse(node: Node, business_message_id: str | None) -> IntraPositionMovement:
    linked = None
    links = node.all("Lnkgs")
    if links:
        linked = links[0]["Ref"].opt_text("SctiesSttlmTxId")
    account = blocks.get_account(node)
    if account is None:
        raise node.error("the safekeeping account is missing", path=f"{node.path}/SfkpgAcct")
    details = node["IntraPosDtls"]
    return IntraPositionMovement(
        transaction_id=node.text("TxId"),
        linked_reference=linked,
        account_owner_bic=blocks.get_owner(node),
        safekeeping_account=account,
        security=blocks.get_security(node["FinInstrmId"]),
        quantity=blocks.get_fin_quantity(details["SttlmQty"]),
        settlement_date=blocks.get_date(details["SttlmDt"]),
        from_balance=blocks.get_balance_type(details["BalFr"]["Tp"]),
        to_balance=blocks.get_balance_type(details["BalTo"]["Tp"]),
    )
