"""sese.027 SecuritiesTransactionCancellationRequestStatusAdvice <-> ``CancellationStatus``.

Layout::

    SctiesTxCxlReqStsAdvc
      CxlReqRef                                         cancellation_request_reference
      TxId/AcctSvcrTxId, AcctOwnrTxId/SctiesSttlmTxId/TxId, SctiesMvmntTp, Pmt
      PrcgSts/<PdgCxl|Rjctd|Rpr|AckdAccptd|Dnd|Canc>    processing (+ reasons)
      TxDtls/AcctOwnr, SfkpgAcct, FinInstrmId, SttlmQty, SttlmDt   (when the details are known)
"""

from __future__ import annotations

from lxml import etree

from iso20022.models import CancellationStatus, Payment, ProcessingStatus, Side
from iso20022.mx import blocks, codes
from iso20022.mx.xmltree import Node, Writer

ROOT = "SctiesTxCxlReqStsAdvc"


def build(w: Writer, body: etree._Element, m: CancellationStatus) -> None:
    w.add(body, "CxlReqRef", m.cancellation_request_reference)
    ids = w.add(body, "TxId")
    w.opt(ids, "AcctSvcrTxId", m.account_servicer_transaction_id)
    ref = w.path(ids, "AcctOwnrTxId/SctiesSttlmTxId")
    w.add(ref, "TxId", m.transaction_id)
    w.add(ref, "SctiesMvmntTp", m.side.value)
    w.add(ref, "Pmt", m.payment.value)
    element = codes.PROCESSING_ELEMENTS[m.processing.code]
    if element not in codes.SESE027_PROCESSING:
        raise blocks.unsupported_status(m.processing.code, "sese.027 PrcgSts")
    blocks.put_status_choice(w, body, "PrcgSts", element, m.processing.reasons, codes.SESE027_PROCESSING)
    details = blocks.all_or_none(
        "TxDtls",
        security=m.security,
        quantity=m.quantity,
        intended_settlement_date=m.intended_settlement_date,
    )
    if not details and (m.safekeeping_account is not None or m.account_owner_bic is not None):
        raise blocks.needs_details("sese.027 TxDtls", "the account and account owner")
    if details:
        node = w.add(body, "TxDtls")
        blocks.put_owner(w, node, m.account_owner_bic)
        blocks.put_account(w, node, m.safekeeping_account)
        blocks.put_security(w, node, m.security)
        blocks.put_quantity(w, node, "SttlmQty", m.quantity)
        blocks.put_choice_date(w, node, "SttlmDt", m.intended_settlement_date)


def parse(node: Node, business_message_id: str | None) -> CancellationStatus:
    ids = node.opt("TxId")
    if ids is None or "SctiesSttlmTxId" not in ids["AcctOwnrTxId"]:
        raise node.error(
            "the cancelled settlement transaction (TxId/AcctOwnrTxId/SctiesSttlmTxId) is missing"
        )
    ref = ids["AcctOwnrTxId"]["SctiesSttlmTxId"]
    code, reasons = blocks.get_status_choice(
        node["PrcgSts"], codes.SESE027_PROCESSING, codes.PROCESSING_CODES.__getitem__
    )
    details = node.opt("TxDtls")
    return CancellationStatus(
        cancellation_request_reference=node.text("CxlReqRef"),
        transaction_id=ref.text("TxId"),
        side=Side(ref.text("SctiesMvmntTp")),
        payment=Payment(ref.text("Pmt")),
        account_servicer_transaction_id=ids.opt_text("AcctSvcrTxId"),
        processing=ProcessingStatus(code=code, reasons=reasons),
        account_owner_bic=blocks.get_owner(details) if details else None,
        safekeeping_account=blocks.get_account(details) if details else None,
        security=blocks.get_security(details["FinInstrmId"]) if details else None,
        quantity=blocks.get_quantity(details["SttlmQty"]) if details else None,
        intended_settlement_date=blocks.get_choice_date(details["SttlmDt"]) if details else None,
    )
