"""sese.020 SecuritiesTransactionCancellationRequest <-> ``CancellationRequest``.

Layout::

    SctiesTxCxlReq
      AcctOwnrTxId/SctiesSttlmTxId/TxId, SctiesMvmntTp, Pmt    the instruction to cancel
      AcctSvcrTxId
      AcctOwnr/Id/AnyBIC
      SfkpgAcct/Id
      TxDtls/FinInstrmId, SttlmDt/Dt/Dt, SttlmQty/Qty/Unit|FaceAmt   (all three or none)
"""

from __future__ import annotations

from lxml import etree

from iso20022.models import CancellationRequest, Payment, Side
from iso20022.mx import blocks
from iso20022.mx.xmltree import Node, Writer

ROOT = "SctiesTxCxlReq"


def build(w: Writer, body: etree._Element, m: CancellationRequest) -> None:
    ref = w.path(body, "AcctOwnrTxId/SctiesSttlmTxId")
    w.add(ref, "TxId", m.transaction_id)
    w.add(ref, "SctiesMvmntTp", m.side.value)
    w.add(ref, "Pmt", m.payment.value)
    w.opt(body, "AcctSvcrTxId", m.account_servicer_transaction_id)
    blocks.put_owner(w, body, m.account_owner_bic)
    blocks.put_account(w, body, m.safekeeping_account)
    details = blocks.all_or_none(
        "TxDtls",
        security=m.security,
        quantity=m.quantity,
        intended_settlement_date=m.intended_settlement_date,
    )
    if details:
        node = w.add(body, "TxDtls")
        blocks.put_security(w, node, m.security)
        blocks.put_choice_date(w, node, "SttlmDt", m.intended_settlement_date)
        blocks.put_quantity(w, node, "SttlmQty", m.quantity)


def parse(node: Node, business_message_id: str | None) -> CancellationRequest:
    ref = node["AcctOwnrTxId"]
    if "SctiesSttlmTxId" not in ref:
        raise ref.error("only a securities settlement transaction (SctiesSttlmTxId) can be cancelled")
    ref = ref["SctiesSttlmTxId"]
    account = blocks.get_account(node)
    if account is None:
        raise node.error("the safekeeping account is missing", path=f"{node.path}/SfkpgAcct")
    details = node.opt("TxDtls")
    return CancellationRequest(
        transaction_id=ref.text("TxId"),
        side=Side(ref.text("SctiesMvmntTp")),
        payment=Payment(ref.text("Pmt")),
        business_message_id=business_message_id,
        account_servicer_transaction_id=node.opt_text("AcctSvcrTxId"),
        account_owner_bic=blocks.get_owner(node),
        safekeeping_account=account,
        security=blocks.get_security(details["FinInstrmId"]) if details else None,
        quantity=blocks.get_quantity(details["SttlmQty"]) if details else None,
        intended_settlement_date=blocks.get_choice_date(details["SttlmDt"]) if details else None,
    )
