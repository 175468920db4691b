"""sese.023 SecuritiesSettlementTransactionInstruction <-> ``SettlementInstruction``.

Layout written and read (V11; the same in every version the registry maps here)::

    SctiesSttlmTxInstr
      TxId                                   transaction_id
      SttlmTpAndAddtlParams/SctiesMvmntTp    side          /Pmt payment   /CmonId common_trade_reference
      TradDtls/TradDt/Dt/Dt                  trade_date    /SttlmDt/Dt/Dt intended_settlement_date
      FinInstrmId/ISIN, Desc                 security
      QtyAndAcctDtls/SttlmQty/Qty/Unit|FaceAmt   quantity
      QtyAndAcctDtls/AcctOwnr/Id/AnyBIC      account_owner_bic
      QtyAndAcctDtls/SfkpgAcct/Id            safekeeping_account
      SttlmParams/SctiesTxTp/Cd              transaction_type
      DlvrgSttlmPties | RcvgSttlmPties       counterparty's side: Dpstry = csd_bic, Pty1 = bic + account,
                                             Pty2 = client; own side (optional): Dpstry = own_csd_bic,
                                             Pty2 = client_bic / client_account
      SttlmAmt/Amt@Ccy, CdtDbtInd            settlement_amount (against payment)
"""

from __future__ import annotations

from lxml import etree

from iso20022.models import Amount, Payment, SettlementInstruction, Side
from iso20022.mx import blocks
from iso20022.mx.xmltree import Node, Writer

ROOT = "SctiesSttlmTxInstr"


def build(w: Writer, body: etree._Element, m: SettlementInstruction) -> None:
    w.add(body, "TxId", m.transaction_id)
    params = w.add(body, "SttlmTpAndAddtlParams")
    w.add(params, "SctiesMvmntTp", m.side.value)
    w.add(params, "Pmt", m.payment.value)
    w.opt(params, "CmonId", m.common_trade_reference)
    trade = w.add(body, "TradDtls")
    blocks.put_choice_date(w, trade, "TradDt", m.trade_date)
    blocks.put_choice_date(w, trade, "SttlmDt", m.intended_settlement_date)
    blocks.put_security(w, body, m.security)
    qty = w.add(body, "QtyAndAcctDtls")
    blocks.put_quantity(w, qty, "SttlmQty", m.quantity)
    blocks.put_owner(w, qty, m.account_owner_bic)
    blocks.put_account(w, qty, m.safekeeping_account)
    settlement = w.add(body, "SttlmParams")
    blocks.put_transaction_type(w, settlement, m.transaction_type)
    counterparty_block = blocks.counterparty_side_name(m.side)
    for name in ("DlvrgSttlmPties", "RcvgSttlmPties"):
        if name == counterparty_block:
            blocks.put_settlement_parties(w, body, name, m.counterparty)
        else:
            _put_own_parties(w, body, name, m)
    if m.settlement_amount is not None:
        blocks.put_amount(w, body, "SttlmAmt", m.settlement_amount, blocks.cash_direction(m.side))


def _put_own_parties(w: Writer, body: etree._Element, name: str, m: SettlementInstruction) -> None:
    if m.own_csd_bic is None and m.client_bic is None and m.client_account is None:
        return
    node = w.add(body, name)
    if m.own_csd_bic is not None:
        w.path(node, "Dpstry/Id/AnyBIC", m.own_csd_bic)
    if m.client_bic is not None or m.client_account is not None:
        blocks.put_party_and_account(w, node, "Pty2", m.client_bic, m.client_account)


def parse(node: Node, business_message_id: str | None) -> SettlementInstruction:
    params = node["SttlmTpAndAddtlParams"]
    side = Side(params.text("SctiesMvmntTp"))
    trade = node["TradDtls"]
    qty = node["QtyAndAcctDtls"]
    own_name = "DlvrgSttlmPties" if side is Side.DELIVER else "RcvgSttlmPties"
    counterparty = blocks.get_settlement_parties(node[blocks.counterparty_side_name(side)])
    own = node.opt(own_name)
    own_csd = client_bic = client_account = None
    if own is not None:
        depository = own.opt("Dpstry")
        if depository is not None:
            own_csd = depository["Id"].text("AnyBIC")
        client = own.opt("Pty2")
        if client is not None:
            client_bic = blocks.party_bic(client, required=False)
            client_account = blocks.get_account(client)
    amount_node = node.opt("SttlmAmt")
    amount: Amount | None = blocks.get_amount(amount_node) if amount_node is not None else None
    account = blocks.get_account(qty)
    owner = blocks.get_owner(qty)
    if account is None:
        raise qty.error("the safekeeping account is missing", path=f"{qty.path}/SfkpgAcct")
    if owner is None:
        raise qty.error("the account owner is missing", path=f"{qty.path}/AcctOwnr")
    agent = own.opt("Pty1") if own is not None else None
    if agent is not None and (
        blocks.party_bic(agent)[:8] != owner[:8] or blocks.get_account(agent) not in (None, account)
    ):
        # the sender's own party (as T2S has it, the CSD participant) is the account owner, on its account
        raise agent.error(
            f"the instruction's own party {blocks.party_bic(agent)} (account {blocks.get_account(agent)}) is "
            f"not its account owner {owner} on {account}"
        )
    payment = Payment(params.text("Pmt"))
    if payment is Payment.AGAINST_PAYMENT and amount is None:
        raise node.error(
            "an against-payment instruction needs a settlement amount", path=f"{node.path}/SttlmAmt"
        )
    return SettlementInstruction(
        transaction_id=node.text("TxId"),
        business_message_id=business_message_id,
        side=side,
        payment=payment,
        common_trade_reference=params.opt_text("CmonId"),
        trade_date=blocks.get_choice_date(trade["TradDt"]),
        intended_settlement_date=blocks.get_choice_date(trade["SttlmDt"]),
        security=blocks.get_security(node["FinInstrmId"]),
        quantity=blocks.get_quantity(qty["SttlmQty"]),
        safekeeping_account=account,
        account_owner_bic=owner,
        transaction_type=blocks.get_transaction_type(node["SttlmParams"]),
        counterparty=counterparty,
        own_csd_bic=own_csd,
        client_bic=client_bic,
        client_account=client_account,
        settlement_amount=amount,
    )
