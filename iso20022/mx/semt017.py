"""semt.017 SecuritiesTransactionPostingReport <-> ``TransactionsStatement``.

Layout::

    SctiesTxPstngRpt
      Pgntn/PgNb, LastPgInd
      StmtGnlDtls/StmtId, StmtPrd/FrDtToDt/FrDt, ToDt, Frqcy/Cd, UpdTp/Cd, StmtBsis/Cd, ActvtyInd, SubAcctInd
      AcctOwnr/Id/AnyBIC, SfkpgAcct/Id
      FinInstrmDtls*                        one per run of consecutive movements in the same security
        FinInstrmId/ISIN, Desc
        Tx*/AcctOwnrTxId, AcctSvcrTxId, MktInfrstrctrTxId,
            TxDtls/TxActvty/Cd=SETT, SttlmTxOrCorpActnEvtTp/SctiesTxTp/Cd, SctiesMvmntTp, Pmt,
                   PstngQty/Qty/Unit|FaceAmt, FctvSttlmDt/Dt
    A receipt (RECE) is a credit of the account, a delivery (DELI) a debit.
"""

from __future__ import annotations

from itertools import groupby

from lxml import etree

from iso20022.models import CreditDebit, Payment, Side, StatementMovement, TransactionsStatement
from iso20022.mx import blocks, codes
from iso20022.mx.xmltree import Node, Writer

ROOT = "SctiesTxPstngRpt"


def build(w: Writer, body: etree._Element, m: TransactionsStatement) -> None:
    blocks.put_pagination(w, body, m.page_number, m.last_page)
    general = w.add(body, "StmtGnlDtls")
    w.opt(general, "StmtId", m.statement_id)
    period = w.path(general, "StmtPrd/FrDtToDt")
    w.add(period, "FrDt", m.period_start)
    w.add(period, "ToDt", m.period_end)
    w.path(general, "Frqcy/Cd", blocks.check_code(m.frequency, codes.STATEMENT_FREQUENCIES, "Frqcy"))
    w.path(general, "UpdTp/Cd", blocks.check_code(m.update_type, codes.STATEMENT_UPDATE_TYPES, "UpdTp"))
    w.path(general, "StmtBsis/Cd", blocks.check_code(m.basis, codes.TRANSACTIONS_BASES, "StmtBsis"))
    w.add(general, "ActvtyInd", bool(m.movements))
    w.add(general, "SubAcctInd", False)
    blocks.put_owner(w, body, m.account_owner_bic)
    blocks.put_account(w, body, m.safekeeping_account)
    for security, run in groupby(m.movements, key=lambda movement: movement.security):
        details = w.add(body, "FinInstrmDtls")
        blocks.put_security(w, details, security)
        for movement in run:
            _build_movement(w, details, movement)


def _build_movement(w: Writer, parent: etree._Element, mv: StatementMovement) -> None:
    tx = w.add(parent, "Tx")
    w.add(tx, "AcctOwnrTxId", mv.transaction_id)
    w.opt(tx, "AcctSvcrTxId", mv.account_servicer_transaction_id)
    w.opt(tx, "MktInfrstrctrTxId", mv.market_infrastructure_transaction_id)
    details = w.add(tx, "TxDtls")
    w.path(details, "TxActvty/Cd", "SETT")
    blocks.put_transaction_type(w, w.add(details, "SttlmTxOrCorpActnEvtTp"), mv.transaction_type)
    side = Side.RECEIVE if mv.credit_debit is CreditDebit.CREDIT else Side.DELIVER
    w.add(details, "SctiesMvmntTp", side.value)
    w.add(details, "Pmt", mv.payment.value)
    blocks.put_quantity(w, details, "PstngQty", mv.quantity)
    blocks.put_date(w, details, "FctvSttlmDt", mv.settlement_date)


def parse(node: Node, business_message_id: str | None) -> TransactionsStatement:
    page_number, last_page = blocks.get_pagination(node["Pgntn"])
    general = node["StmtGnlDtls"]
    period = general["StmtPrd"].opt("FrDtToDt")
    if period is None:
        raise general.error(
            "the statement period must be given as dates (FrDtToDt)", path=f"{general.path}/StmtPrd"
        )
    account = blocks.get_account(node)
    if account is None:
        raise node.error("the safekeeping account is missing", path=f"{node.path}/SfkpgAcct")
    movements = []
    for details in node.all("FinInstrmDtls"):
        security = blocks.get_security(details["FinInstrmId"])
        movements.extend(_parse_movement(tx, security) for tx in details.all("Tx"))
    return TransactionsStatement(
        period_start=period.date("FrDt"),
        period_end=period.date("ToDt"),
        statement_id=general.opt_text("StmtId"),
        frequency=blocks.code_of(general, "Frqcy") if "Frqcy" in general else "ADHO",
        update_type=blocks.code_of(general, "UpdTp") if "UpdTp" in general else "COMP",
        basis=blocks.code_of(general, "StmtBsis"),
        page_number=page_number,
        last_page=last_page,
        account_owner_bic=blocks.get_owner(node),
        safekeeping_account=account,
        movements=tuple(movements),
    )


def _parse_movement(tx: Node, security) -> StatementMovement:
    details = tx["TxDtls"]
    event = details["SttlmTxOrCorpActnEvtTp"]
    side = Side(details.text("SctiesMvmntTp"))
    return StatementMovement(
        security=security,
        transaction_id=tx.text("AcctOwnrTxId"),
        account_servicer_transaction_id=tx.opt_text("AcctSvcrTxId"),
        market_infrastructure_transaction_id=tx.opt_text("MktInfrstrctrTxId"),
        transaction_type=blocks.get_transaction_type(event),
        credit_debit=CreditDebit.CREDIT if side is Side.RECEIVE else CreditDebit.DEBIT,
        payment=Payment(details.text("Pmt")),
        quantity=blocks.get_quantity(details["PstngQty"]),
        settlement_date=blocks.get_date(details["FctvSttlmDt"]),
    )
