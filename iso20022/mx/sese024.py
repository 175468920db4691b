"""sese.024 SecuritiesSettlementTransactionStatusAdvice <-> ``StatusAdvice``.

Layout::

    SctiesSttlmTxStsAdvc
      TxId/AcctOwnrTxId, AcctSvcrTxId, MktInfrstrctrTxId     references
      PrcgSts/<AckdAccptd|PdgPrcg|Rjctd|Rpr|Canc|PdgCxl|CxlReqd|ModReqd>   processing (+ reasons)
      MtchgSts/<Mtchd|Umtchd>                                matching
      SttlmSts/<Pdg|Flng>                                    settlement
      TxDtls                                                 details: the instruction echoed back
"""

from __future__ import annotations

from lxml import etree

from iso20022.models import (
    MatchingStatus,
    Payment,
    ProcessingStatus,
    SettlementStatus,
    Side,
    StatusAdvice,
    TransactionDetails,
)
from iso20022.mx import blocks, codes
from iso20022.mx.xmltree import Node, Writer

ROOT = "SctiesSttlmTxStsAdvc"


def build(w: Writer, body: etree._Element, m: StatusAdvice) -> None:
    ids = w.add(body, "TxId")
    w.add(ids, "AcctOwnrTxId", m.transaction_id)
    w.opt(ids, "AcctSvcrTxId", m.account_servicer_transaction_id)
    w.opt(ids, "MktInfrstrctrTxId", m.market_infrastructure_transaction_id)
    if m.processing is not None:
        element = codes.PROCESSING_ELEMENTS[m.processing.code]
        if element not in codes.SESE024_PROCESSING:
            raise blocks.unsupported_status(m.processing.code, "sese.024 PrcgSts")
        blocks.put_status_choice(w, body, "PrcgSts", element, m.processing.reasons, codes.SESE024_PROCESSING)
    if m.matching is not None:
        element = codes.MATCHING_ELEMENTS[m.matching.code]
        blocks.put_status_choice(w, body, "MtchgSts", element, m.matching.reasons, codes.SESE024_MATCHING)
    if m.settlement is not None:
        element = codes.SETTLEMENT_ELEMENTS[m.settlement.code]
        blocks.put_status_choice(w, body, "SttlmSts", element, m.settlement.reasons, codes.SESE024_SETTLEMENT)
    if m.details is not None:
        _build_details(w, body, m.details)


def _build_details(w: Writer, body: etree._Element, d: TransactionDetails) -> None:
    node = w.add(body, "TxDtls")
    blocks.put_owner(w, node, d.account_owner_bic)
    blocks.put_account(w, node, d.safekeeping_account)
    blocks.put_security(w, node, d.security)
    blocks.put_quantity(w, node, "SttlmQty", d.quantity)
    blocks.put_choice_date(w, node, "SttlmDt", d.intended_settlement_date)
    if d.trade_date is not None:
        blocks.put_choice_date(w, node, "TradDt", d.trade_date)
    w.add(node, "SctiesMvmntTp", d.side.value)
    w.add(node, "Pmt", d.payment.value)
    blocks.put_transaction_type(w, w.add(node, "SttlmParams"), d.transaction_type)
    if d.counterparty is not None:
        blocks.put_settlement_parties(w, node, blocks.counterparty_side_name(d.side), d.counterparty)


def parse(node: Node, business_message_id: str | None) -> StatusAdvice:
    ids = node["TxId"]
    processing = matching = settlement = None
    if "PrcgSts" in node:
        code, reasons = blocks.get_status_choice(
            node["PrcgSts"], codes.SESE024_PROCESSING, codes.PROCESSING_CODES.__getitem__
        )
        processing = ProcessingStatus(code=code, reasons=reasons)
    if "MtchgSts" in node:
        code, reasons = blocks.get_status_choice(
            node["MtchgSts"], codes.SESE024_MATCHING, codes.MATCHING_CODES.__getitem__
        )
        matching = MatchingStatus(code=code, reasons=reasons)
    if "SttlmSts" in node:
        code, reasons = blocks.get_status_choice(
            node["SttlmSts"], codes.SESE024_SETTLEMENT, codes.SETTLEMENT_CODES.__getitem__
        )
        settlement = SettlementStatus(code=code, reasons=reasons)
    details_node = node.opt("TxDtls")
    return StatusAdvice(
        transaction_id=ids.text("AcctOwnrTxId"),
        account_servicer_transaction_id=ids.opt_text("AcctSvcrTxId"),
        market_infrastructure_transaction_id=ids.opt_text("MktInfrstrctrTxId"),
        processing=processing,
        matching=matching,
        settlement=settlement,
        details=_parse_details(details_node) if details_node is not None else None,
    )


def _parse_details(node: Node) -> TransactionDetails:
    side = Side(node.text("SctiesMvmntTp"))
    parties = node.opt(blocks.counterparty_side_name(side))
    trade = node.opt("TradDt")
    return TransactionDetails(
        side=side,
        payment=Payment(node.text("Pmt")),
        security=blocks.get_security(node["FinInstrmId"]),
        quantity=blocks.get_quantity(node["SttlmQty"]),
        intended_settlement_date=blocks.get_choice_date(node["SttlmDt"]),
        trade_date=blocks.get_choice_date(trade) if trade is not None else None,
        safekeeping_account=blocks.get_account(node),
        account_owner_bic=blocks.get_owner(node),
        counterparty=blocks.get_settlement_parties(parties) if parties is not None else None,
        transaction_type=blocks.get_transaction_type(node["SttlmParams"]),
    )
