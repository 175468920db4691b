"""semt.014 IntraPositionMovementStatusAdvice <-> ``IntraPositionStatus``.

Layout::

    IntraPosMvmntStsAdvc
      TxId/AcctOwnrTxId, AcctSvcrTxId
      PrcgSts/<Rjctd|Rpr|Canc|AckdAccptd>       processing (+ reasons)
      SttlmSts/<Pdg|Flng>                       settlement (+ reasons)
      TxDtls/AcctOwnr/AnyBIC, SfkpgAcct/Id, FinInstrmId, SttlmQty, SttlmDt/Dt, BalFr/Cd, BalTo/Cd
"""

from __future__ import annotations

from lxml import etree

from iso20022.models import IntraPositionStatus, ProcessingStatus, SettlementStatus
from iso20022.mx import blocks, codes
from iso20022.mx.xmltree import Node, Writer

ROOT = "IntraPosMvmntStsAdvc"


def build(w: Writer, body: etree._Element, m: IntraPositionStatus) -> None:
    ids = w.add(body, "TxId")
    w.add(ids, "AcctOwnrTxId", m.transaction_id)
    w.opt(ids, "AcctSvcrTxId", m.account_servicer_transaction_id)
    if m.processing is not None:
        element = codes.PROCESSING_ELEMENTS[m.processing.code]
        if element not in codes.SEMT014_PROCESSING:
            raise blocks.unsupported_status(m.processing.code, "semt.014 PrcgSts")
        blocks.put_status_choice(w, body, "PrcgSts", element, m.processing.reasons, codes.SEMT014_PROCESSING)
    if m.settlement is not None:
        element = codes.SETTLEMENT_ELEMENTS[m.settlement.code]
        blocks.put_status_choice(w, body, "SttlmSts", element, m.settlement.reasons, codes.SEMT014_SETTLEMENT)
    details = blocks.all_or_none(
        "TxDtls", security=m.security, quantity=m.quantity, settlement_date=m.settlement_date
    )
    extras = (m.safekeeping_account, m.account_owner_bic, m.from_balance, m.to_balance)
    if not details and any(extra is not None for extra in extras):
        raise blocks.needs_details("semt.014 TxDtls", "the account, owner and balances")
    if details:
        node = w.add(body, "TxDtls")
        blocks.put_owner(w, node, m.account_owner_bic, with_id=False)
        blocks.put_account(w, node, m.safekeeping_account)
        blocks.put_security(w, node, m.security)
        blocks.put_fin_quantity(w, node, "SttlmQty", m.quantity)
        blocks.put_date(w, node, "SttlmDt", m.settlement_date)
        if m.from_balance is not None:
            blocks.put_balance_type(w, node, "BalFr", m.from_balance, codes.BALANCE_13)
        if m.to_balance is not None:
            blocks.put_balance_type(w, node, "BalTo", m.to_balance, codes.BALANCE_13)


def parse(node: Node, business_message_id: str | None) -> IntraPositionStatus:
    ids = node["TxId"]
    processing = settlement = None
    if "PrcgSts" in node:
        code, reasons = blocks.get_status_choice(
            node["PrcgSts"], codes.SEMT014_PROCESSING, codes.PROCESSING_CODES.__getitem__
        )
        processing = ProcessingStatus(code=code, reasons=reasons)
    if "SttlmSts" in node:
        code, reasons = blocks.get_status_choice(
            node["SttlmSts"], codes.SEMT014_SETTLEMENT, codes.SETTLEMENT_CODES.__getitem__
        )
        settlement = SettlementStatus(code=code, reasons=reasons)
    details = node.opt("TxDtls")
    if details is None:
        return IntraPositionStatus(
            transaction_id=ids.text("AcctOwnrTxId"),
            account_servicer_transaction_id=ids.opt_text("AcctSvcrTxId"),
            processing=processing,
            settlement=settlement,
        )
    balance_from = details.opt("BalFr")
    balance_to = details.opt("BalTo")
    return IntraPositionStatus(
        transaction_id=ids.text("AcctOwnrTxId"),
        account_servicer_transaction_id=ids.opt_text("AcctSvcrTxId"),
        processing=processing,
        settlement=settlement,
        account_owner_bic=blocks.get_owner(details),
        safekeeping_account=blocks.get_account(details),
        security=blocks.get_security(details["FinInstrmId"]),
        quantity=blocks.get_fin_quantity(details["SttlmQty"]),
        settlement_date=blocks.get_date(details["SttlmDt"]),
        from_balance=blocks.get_balance_type(balance_from) if balance_from is not None else None,
        to_balance=blocks.get_balance_type(balance_to) if balance_to is not None else None,
    )
