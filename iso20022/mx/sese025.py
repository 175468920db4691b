"""sese.025 SecuritiesSettlementTransactionConfirmation <-> ``SettlementConfirmation``.

Layout::

    SctiesSttlmTxConf
      TxIdDtls/AcctOwnrTxId, AcctSvcrTxId, MktInfrstrctrTxId, SctiesMvmntTp, Pmt, CmonId
      TradDtls/TradDt/Dt/Dt, FctvSttlmDt/Dt/Dt
      FinInstrmId/ISIN, Desc
      QtyAndAcctDtls/SttldQty/Qty/Unit|FaceAmt, AcctOwnr/Id/AnyBIC, SfkpgAcct/Id
      SttlmParams/SctiesTxTp/Cd
      DlvrgSttlmPties | RcvgSttlmPties       the counterparty (Dpstry, Pty1, Pty2)
      SttldAmt/Amt@Ccy, CdtDbtInd
"""

from __future__ import annotations

from lxml import etree

from iso20022.models import Payment, SettlementConfirmation, Side
from iso20022.mx import blocks
from iso20022.mx.xmltree import Node, Writer

ROOT = "SctiesSttlmTxConf"


def build(w: Writer, body: etree._Element, m: SettlementConfirmation) -> None:
    ids = w.add(body, "TxIdDtls")
    w.add(ids, "AcctOwnrTxId", m.transaction_id)
    w.opt(ids, "AcctSvcrTxId", m.account_servicer_transaction_id)
    w.opt(ids, "MktInfrstrctrTxId", m.market_infrastructure_transaction_id)
    w.add(ids, "SctiesMvmntTp", m.side.value)
    w.add(ids, "Pmt", m.payment.value)
    w.opt(ids, "CmonId", m.common_trade_reference)
    trade = w.add(body, "TradDtls")
    if m.trade_date is not None:
        blocks.put_choice_date(w, trade, "TradDt", m.trade_date)
    blocks.put_choice_date(w, trade, "FctvSttlmDt", m.effective_settlement_date)
    blocks.put_security(w, body, m.security)
    qty = w.add(body, "QtyAndAcctDtls")
    blocks.put_quantity(w, qty, "SttldQty", m.settled_quantity)
    blocks.put_owner(w, qty, m.account_owner_bic)
    blocks.put_account(w, qty, m.safekeeping_account)
    blocks.put_transaction_type(w, w.add(body, "SttlmParams"), m.transaction_type)
    blocks.put_settlement_parties(w, body, blocks.counterparty_side_name(m.side), m.counterparty)
    if m.settled_amount is not None:
        blocks.put_amount(w, body, "SttldAmt", m.settled_amount, blocks.cash_direction(m.side))


def parse(node: Node, business_message_id: str | None) -> SettlementConfirmation:
    ids = node["TxIdDtls"]
    side = Side(ids.text("SctiesMvmntTp"))
    trade = node["TradDtls"]
    trade_date = trade.opt("TradDt")
    qty = node["QtyAndAcctDtls"]
    account = blocks.get_account(qty)
    owner = blocks.get_owner(qty)
    if account is None:
        raise qty.error("the safekeeping account is missing", path=f"{qty.path}/SfkpgAcct")
    if owner is None:
        raise qty.error("the account owner is missing", path=f"{qty.path}/AcctOwnr")
    amount = node.opt("SttldAmt")
    return SettlementConfirmation(
        transaction_id=ids.text("AcctOwnrTxId"),
        account_servicer_transaction_id=ids.opt_text("AcctSvcrTxId"),
        market_infrastructure_transaction_id=ids.opt_text("MktInfrstrctrTxId"),
        side=side,
        payment=Payment(ids.text("Pmt")),
        common_trade_reference=ids.opt_text("CmonId"),
        trade_date=blocks.get_choice_date(trade_date) if trade_date is not None else None,
        effective_settlement_date=blocks.get_choice_date(trade["FctvSttlmDt"]),
        security=blocks.get_security(node["FinInstrmId"]),
        settled_quantity=blocks.get_quantity(qty["SttldQty"]),
        safekeeping_account=account,
        account_owner_bic=owner,
        transaction_type=blocks.get_transaction_type(node["SttlmParams"]),
        counterparty=blocks.get_settlement_parties(node[blocks.counterparty_side_name(side)]),
        settled_amount=blocks.get_amount(amount) if amount is not None else None,
    )
