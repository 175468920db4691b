"""Messages built by an independent implementation parse correctly.

python-iso20022 (xsdata dataclasses generated from the official schemas) builds each instance from its
own element tree and serialises it; its root element is named after the class (``Sese02300111``), not
``Document`` (see the reference MANIFEST), so the tests rename it before the hub reads the bytes. The hub
must read back exactly the business content the instance was built with.

Covered: sese.023/024/025/020/027, semt.002/017 and the intra-position trio semt.013/014/015. Its
head.001.001.02 module cannot be imported (python-iso20022 0.3.0 raises NameError for
``BusinessApplicationHeaderV02``), so the header is covered by the official-schema tests instead.
"""

import datetime as dt
import re
import string
from decimal import Decimal
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from python_iso20022.semt.semt_002_001_11.models import Semt00200111
from python_iso20022.semt.semt_013_001_06.models import Semt01300106
from python_iso20022.semt.semt_014_001_07.models import Semt01400107
from python_iso20022.semt.semt_015_001_09.models import Semt01500109
from python_iso20022.semt.semt_017_001_12.models import Semt01700112
from python_iso20022.sese.sese_020_001_07.models import Sese02000107
from python_iso20022.sese.sese_023_001_11.models import Sese02300111
from python_iso20022.sese.sese_024_001_12.models import Sese02400112
from python_iso20022.sese.sese_025_001_11.models import Sese02500111
from python_iso20022.sese.sese_027_001_07.models import Sese02700107
from xsdata.formats.dataclass.parsers import DictDecoder

from iso20022 import models as m
from iso20022 import mx
from iso20022.identifiers import isin_check_digit

pytestmark = pytest.mark.filterwarnings("ignore:Setting `pretty_print` is deprecated:DeprecationWarning")

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def num(value: Decimal) -> str:
    return format(value, "f")


def day(value: dt.date) -> str:
    return value.isoformat()


def xsdata_document(cls, content: dict) -> bytes:
    """Build a python-iso20022 instance from its element tree and serialise it as a ``Document``."""
    instance = DictDecoder().decode(content, cls)
    xml = instance.to_iso20022_xml()
    root = cls.__name__
    xml = re.sub(rf"(</?)(\w+:)?{root}\b", r"\1\2Document", xml)
    return xml.encode("utf-8")


@pytest.fixture(scope="session")
def official(reference_dir):
    @cache
    def schema(message_id: str) -> etree.XMLSchema:
        return etree.XMLSchema(etree.parse(str(reference_dir / "xsd" / f"{message_id}.xsd")))

    return schema


def hub_reads(xml: bytes, message_id: str, official) -> object:
    schema = official(message_id)
    assert schema.validate(etree.fromstring(xml)), schema.error_log  # the independent instance is valid ISO
    parsed = mx.parse(xml)
    assert parsed.message_id == message_id
    return parsed.body


# ------------------------------------------------------------------------------------------ strategies

ids = st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=16)
bics = st.from_regex(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?", fullmatch=True)
dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))
quantities = st.decimals(min_value=Decimal(1), max_value=Decimal("99999999"), places=2)


@st.composite
def securities(draw):
    body = draw(st.from_regex(r"[A-Z]{2}[A-Z0-9]{9}", fullmatch=True))
    return m.Security(
        isin=body + isin_check_digit(body), description=draw(st.none() | st.just("Demo bond 2031"))
    )


quantity_values = st.builds(m.Quantity, amount=quantities, type=st.sampled_from(m.QuantityType))
counterparties = st.builds(m.Counterparty, bic=bics, csd_bic=bics, safekeeping_account=st.none() | ids)


def quantity(q: m.Quantity) -> dict:
    return {"Unit" if q.type is m.QuantityType.UNIT else "FaceAmt": num(q.amount)}


def security(s: m.Security) -> dict:
    return {"ISIN": s.isin, **({"Desc": s.description} if s.description else {})}


def parties(c: m.Counterparty) -> dict:
    pty1 = {"Id": {"AnyBIC": c.bic}}
    if c.safekeeping_account:
        pty1["SfkpgAcct"] = {"Id": c.safekeeping_account}
    return {"Dpstry": {"Id": {"AnyBIC": c.csd_bic}}, "Pty1": pty1}


def counterparty_block(side: m.Side) -> str:
    return "RcvgSttlmPties" if side is m.Side.DELIVER else "DlvrgSttlmPties"


# ------------------------------------------------------------------------------------------------ tests


@SETTINGS
@given(
    tx=ids,
    side=st.sampled_from(m.Side),
    trade=dates,
    settle=dates,
    sec=securities(),
    qty=quantity_values,
    account=ids,
    owner=bics,
    cp=counterparties,
    ctr=st.none() | ids,
    amount=st.none() | st.decimals(min_value=1, max_value=10**9, places=2),
)
def test_sese023_built_by_python_iso20022_is_read_by_the_hub(
    official, tx, side, trade, settle, sec, qty, account, owner, cp, ctr, amount
):
    payment = m.Payment.FREE if amount is None else m.Payment.AGAINST_PAYMENT
    params = {"SctiesMvmntTp": side.value, "Pmt": payment.value}
    if ctr:
        params["CmonId"] = ctr
    content = {
        "TxId": tx,
        "SttlmTpAndAddtlParams": params,
        "TradDtls": {"TradDt": {"Dt": {"Dt": day(trade)}}, "SttlmDt": {"Dt": {"Dt": day(settle)}}},
        "FinInstrmId": security(sec),
        "QtyAndAcctDtls": {
            "SttlmQty": {"Qty": quantity(qty)},
            "AcctOwnr": {"Id": {"AnyBIC": owner}},
            "SfkpgAcct": {"Id": account},
        },
        "SttlmParams": {"SctiesTxTp": {"Cd": "TRAD"}},
        counterparty_block(side): parties(cp),
    }
    if amount is not None:
        content["SttlmAmt"] = {
            "Amt": {"value": num(amount), "Ccy": "EUR"},
            "CdtDbtInd": "CRDT" if side is m.Side.DELIVER else "DBIT",
        }
    xml = xsdata_document(Sese02300111, {"SctiesSttlmTxInstr": content})
    assert hub_reads(xml, "sese.023.001.11", official) == m.SettlementInstruction(
        transaction_id=tx,
        side=side,
        payment=payment,
        trade_date=trade,
        intended_settlement_date=settle,
        security=sec,
        quantity=qty,
        safekeeping_account=account,
        account_owner_bic=owner,
        counterparty=cp,
        common_trade_reference=ctr,
        settlement_amount=m.Amount(value=amount, currency="EUR") if amount is not None else None,
    )


@SETTINGS
@given(
    tx=ids,
    servicer=st.none() | ids,
    sec=securities(),
    qty=quantity_values,
    settle=dates,
    side=st.sampled_from(m.Side),
    cp=counterparties,
)
def test_sese024_built_by_python_iso20022_is_read_by_the_hub(
    official, tx, servicer, sec, qty, settle, side, cp
):
    ids_block = {"AcctOwnrTxId": tx, **({"AcctSvcrTxId": servicer} if servicer else {})}
    content = {
        "TxId": ids_block,
        "PrcgSts": {
            "Rjctd": {"Rsn": [{"Cd": {"Cd": "DSEC"}, "AddtlRsnInf": "unknown ISIN"}, {"Cd": {"Cd": "SAFE"}}]}
        },
        "MtchgSts": {"Umtchd": {"NoSpcfdRsn": "NORE"}},
        "SttlmSts": {"Pdg": {"Rsn": [{"Cd": {"Cd": "LACK"}}]}},
        "TxDtls": {
            "FinInstrmId": security(sec),
            "SttlmQty": {"Qty": quantity(qty)},
            "SttlmDt": {"Dt": {"Dt": day(settle)}},
            "SctiesMvmntTp": side.value,
            "Pmt": "FREE",
            "SttlmParams": {"SctiesTxTp": {"Cd": "TRAD"}},
            counterparty_block(side): parties(cp),
        },
    }
    xml = xsdata_document(Sese02400112, {"SctiesSttlmTxStsAdvc": content})
    assert hub_reads(xml, "sese.024.001.12", official) == m.StatusAdvice(
        transaction_id=tx,
        account_servicer_transaction_id=servicer,
        processing=m.ProcessingStatus(
            code=m.ProcessingStatusCode.REJECTED,
            reasons=(m.Reason(code="DSEC", narrative="unknown ISIN"), m.Reason(code="SAFE")),
        ),
        matching=m.MatchingStatus(code=m.MatchingStatusCode.UNMATCHED),
        settlement=m.SettlementStatus(code=m.SettlementStatusCode.PENDING, reasons=(m.Reason(code="LACK"),)),
        details=m.TransactionDetails(
            side=side,
            payment=m.Payment.FREE,
            security=sec,
            quantity=qty,
            intended_settlement_date=settle,
            counterparty=cp,
        ),
    )


@SETTINGS
@given(
    tx=ids,
    side=st.sampled_from(m.Side),
    settled=dates,
    sec=securities(),
    qty=quantity_values,
    account=ids,
    owner=bics,
    cp=counterparties,
)
def test_sese025_built_by_python_iso20022_is_read_by_the_hub(
    official, tx, side, settled, sec, qty, account, owner, cp
):
    content = {
        "TxIdDtls": {"AcctOwnrTxId": tx, "SctiesMvmntTp": side.value, "Pmt": "FREE"},
        "TradDtls": {"FctvSttlmDt": {"Dt": {"Dt": day(settled)}}},
        "FinInstrmId": security(sec),
        "QtyAndAcctDtls": {
            "SttldQty": {"Qty": quantity(qty)},
            "AcctOwnr": {"Id": {"AnyBIC": owner}},
            "SfkpgAcct": {"Id": account},
        },
        "SttlmParams": {"SctiesTxTp": {"Cd": "OWNE"}},
        counterparty_block(side): parties(cp),
    }
    xml = xsdata_document(Sese02500111, {"SctiesSttlmTxConf": content})
    assert hub_reads(xml, "sese.025.001.11", official) == m.SettlementConfirmation(
        transaction_id=tx,
        side=side,
        payment=m.Payment.FREE,
        effective_settlement_date=settled,
        security=sec,
        settled_quantity=qty,
        safekeeping_account=account,
        account_owner_bic=owner,
        counterparty=cp,
        transaction_type="OWNE",
    )


@SETTINGS
@given(tx=ids, side=st.sampled_from(m.Side), account=ids, sec=securities(), qty=quantity_values, settle=dates)
def test_sese020_built_by_python_iso20022_is_read_by_the_hub(official, tx, side, account, sec, qty, settle):
    content = {
        "AcctOwnrTxId": {"SctiesSttlmTxId": {"TxId": tx, "SctiesMvmntTp": side.value, "Pmt": "APMT"}},
        "SfkpgAcct": {"Id": account},
        "TxDtls": {
            "FinInstrmId": security(sec),
            "SttlmDt": {"Dt": {"Dt": day(settle)}},
            "SttlmQty": {"Qty": quantity(qty)},
        },
    }
    xml = xsdata_document(Sese02000107, {"SctiesTxCxlReq": content})
    assert hub_reads(xml, "sese.020.001.07", official) == m.CancellationRequest(
        transaction_id=tx,
        side=side,
        payment=m.Payment.AGAINST_PAYMENT,
        safekeeping_account=account,
        security=sec,
        quantity=qty,
        intended_settlement_date=settle,
    )


@SETTINGS
@given(ref=ids, tx=ids, side=st.sampled_from(m.Side), status=st.sampled_from(["AckdAccptd", "Dnd", "Canc"]))
def test_sese027_built_by_python_iso20022_is_read_by_the_hub(official, ref, tx, side, status):
    reason = {"AckdAccptd": "SMPG", "Dnd": "DCAN", "Canc": "CANI"}[status]
    content = {
        "CxlReqRef": ref,
        "TxId": {
            "AcctOwnrTxId": {"SctiesSttlmTxId": {"TxId": tx, "SctiesMvmntTp": side.value, "Pmt": "FREE"}}
        },
        "PrcgSts": {status: {"Rsn": [{"Cd": {"Cd": reason}}]}},
    }
    xml = xsdata_document(Sese02700107, {"SctiesTxCxlReqStsAdvc": content})
    code = {"AckdAccptd": "PACK", "Dnd": "DEND", "Canc": "CAND"}[status]
    assert hub_reads(xml, "sese.027.001.07", official) == m.CancellationStatus(
        cancellation_request_reference=ref,
        transaction_id=tx,
        side=side,
        payment=m.Payment.FREE,
        processing=m.ProcessingStatus(code=m.ProcessingStatusCode(code), reasons=(m.Reason(code=reason),)),
    )


@SETTINGS
@given(
    statement_date=dates,
    account=ids,
    owner=bics,
    rows=st.lists(st.tuples(securities(), quantities, quantities, st.booleans()), min_size=0, max_size=4),
)
def test_semt002_built_by_python_iso20022_is_read_by_the_hub(official, statement_date, account, owner, rows):
    balances = []
    expected = []
    for sec, available, blocked, short in rows:
        if short:  # a contra account: its available balance short, written as SHOR with the absolute quantity
            available = -available
        total = available + blocked
        balances.append(
            {
                "FinInstrmId": security(sec),
                "AggtBal": {
                    "ShrtLngInd": "SHOR" if total < 0 else "LONG",
                    "Qty": {"Qty": {"Qty": {"Unit": num(abs(total))}}},
                },
                "AvlblBal": {
                    **({"ShrtLngInd": "SHOR"} if short else {}),
                    "Qty": {"Qty": {"Unit": num(abs(available))}},
                },
                "NotAvlblBal": {"Qty": {"Unit": num(blocked)}},
                "BalBrkdwn": [{"SubBalTp": {"Cd": "BLOK"}, "Qty": {"Qty": {"Qty": {"Unit": num(blocked)}}}}],
            }
        )
        expected.append(
            m.HoldingBalance(
                security=sec,
                aggregate=total,
                available=available,
                not_available=blocked,
                sub_balances=(m.SubBalanceQuantity(balance=m.SubBalance.BLOCKED, quantity=blocked),),
            )
        )
    content = {
        "Pgntn": {"PgNb": "1", "LastPgInd": True},
        "StmtGnlDtls": {
            "StmtDtTm": {"Dt": day(statement_date)},
            "Frqcy": {"Cd": "DAIL"},
            "UpdTp": {"Cd": "COMP"},
            "StmtBsis": {"Cd": "SETT"},
            "ActvtyInd": bool(rows),
            "SubAcctInd": False,
        },
        "AcctOwnr": {"Id": {"AnyBIC": owner}},
        "SfkpgAcct": {"Id": account},
        "BalForAcct": balances,
    }
    xml = xsdata_document(Semt00200111, {"SctiesBalCtdyRpt": content})
    statement = hub_reads(xml, "semt.002.001.11", official)
    assert statement == m.HoldingsStatement(
        statement_date=statement_date,
        safekeeping_account=account,
        account_owner_bic=owner,
        balances=tuple(expected),
    )
    assert all(b.blocked == b.not_available for b in statement.balances)


@SETTINGS
@given(
    start=dates,
    end=dates,
    account=ids,
    sec=securities(),
    postings=st.lists(
        st.tuples(ids, quantity_values, st.sampled_from(m.Side), dates), min_size=1, max_size=4
    ),
)
def test_semt017_built_by_python_iso20022_is_read_by_the_hub(official, start, end, account, sec, postings):
    content = {
        "Pgntn": {"PgNb": "1", "LastPgInd": True},
        "StmtGnlDtls": {
            "StmtPrd": {"FrDtToDt": {"FrDt": day(start), "ToDt": day(end)}},
            "Frqcy": {"Cd": "DAIL"},
            "UpdTp": {"Cd": "COMP"},
            "StmtBsis": {"Cd": "SETT"},
            "ActvtyInd": True,
            "SubAcctInd": False,
        },
        "SfkpgAcct": {"Id": account},
        "FinInstrmDtls": [
            {
                "FinInstrmId": security(sec),
                "Tx": [
                    {
                        "AcctOwnrTxId": tx,
                        "TxDtls": {
                            "TxActvty": {"Cd": "SETT"},
                            "SttlmTxOrCorpActnEvtTp": {"SctiesTxTp": {"Cd": "TRAD"}},
                            "SctiesMvmntTp": side.value,
                            "Pmt": "FREE",
                            "PstngQty": {"Qty": quantity(qty)},
                            "FctvSttlmDt": {"Dt": day(settled)},
                        },
                    }
                    for tx, qty, side, settled in postings
                ],
            }
        ],
    }
    xml = xsdata_document(Semt01700112, {"SctiesTxPstngRpt": content})
    assert hub_reads(xml, "semt.017.001.12", official) == m.TransactionsStatement(
        period_start=start,
        period_end=end,
        safekeeping_account=account,
        movements=tuple(
            m.StatementMovement(
                security=sec,
                transaction_id=tx,
                quantity=qty,
                settlement_date=settled,
                credit_debit=m.CreditDebit.CREDIT if side is m.Side.RECEIVE else m.CreditDebit.DEBIT,
            )
            for tx, qty, side, settled in postings
        ),
    )


def test_python_iso20022_reads_what_the_hub_builds():
    """And the other way: the independent implementation parses the hub's sese.023 to the same values."""
    model = m.SettlementInstruction(
        transaction_id="TX-42",
        side=m.Side.RECEIVE,
        payment=m.Payment.FREE,
        trade_date=dt.date(2026, 11, 23),
        intended_settlement_date=dt.date(2026, 11, 25),
        security=m.Security(isin="ZAE000015889"),
        quantity=m.Quantity(amount=Decimal("250")),
        safekeeping_account="STR-9",
        account_owner_bic="BANKZAJJ",
        counterparty=m.Counterparty(bic="PARTRUMM", csd_bic="NADCRUMM", safekeeping_account="NSD-1"),
    )
    xml = mx.build(model).decode().replace("Document", "Sese02300111")
    parsed = Sese02300111.from_iso20022_xml(xml).scties_sttlm_tx_instr
    assert parsed.tx_id == "TX-42"
    assert parsed.fin_instrm_id.isin == "ZAE000015889"
    assert parsed.qty_and_acct_dtls.sttlm_qty.qty.unit == Decimal(250)
    assert parsed.dlvrg_sttlm_pties.dpstry.id.any_bic == "NADCRUMM"


balance_codes = st.sampled_from(["AVAI", "BLOK", "PLED", "RSTR"])


@SETTINGS
@given(
    tx=ids,
    account=ids,
    sec=securities(),
    qty=quantity_values,
    settle=dates,
    source=balance_codes,
    target=balance_codes,
    linked=st.none() | ids,
)
def test_semt013_built_by_python_iso20022_is_read_by_the_hub(
    official, tx, account, sec, qty, settle, source, target, linked
):
    content = {
        "TxId": tx,
        "SfkpgAcct": {"Id": account},
        "FinInstrmId": security(sec),
        "IntraPosDtls": {
            "SttlmQty": quantity(qty),
            "SttlmDt": {"Dt": day(settle)},
            "BalFr": {"Tp": {"Cd": source}},
            "BalTo": {"Tp": {"Cd": target}},
        },
    }
    if linked:
        content["Lnkgs"] = [{"Ref": {"SctiesSttlmTxId": linked}}]
    xml = xsdata_document(Semt01300106, {"IntraPosMvmntInstr": content})
    assert hub_reads(xml, "semt.013.001.06", official) == m.IntraPositionMovement(
        transaction_id=tx,
        safekeeping_account=account,
        security=sec,
        quantity=qty,
        settlement_date=settle,
        from_balance=m.SubBalance(source),
        to_balance=m.SubBalance(target),
        linked_reference=linked,
    )


@SETTINGS
@given(tx=ids, servicer=st.none() | ids, sec=securities(), qty=quantity_values, settle=dates)
def test_semt014_built_by_python_iso20022_is_read_by_the_hub(official, tx, servicer, sec, qty, settle):
    content = {
        "TxId": {"AcctOwnrTxId": tx, **({"AcctSvcrTxId": servicer} if servicer else {})},
        "PrcgSts": {"AckdAccptd": {"NoSpcfdRsn": "NORE"}},
        "SttlmSts": {"Pdg": {"Rsn": [{"Cd": {"Cd": "LACK"}, "AddtlRsnInf": "lack of securities"}]}},
        "TxDtls": {
            "FinInstrmId": security(sec),
            "SttlmQty": quantity(qty),
            "SttlmDt": {"Dt": day(settle)},
            "BalFr": {"Cd": "AVAI"},
            "BalTo": {"Cd": "BLOK"},
        },
    }
    xml = xsdata_document(Semt01400107, {"IntraPosMvmntStsAdvc": content})
    assert hub_reads(xml, "semt.014.001.07", official) == m.IntraPositionStatus(
        transaction_id=tx,
        account_servicer_transaction_id=servicer,
        processing=m.ProcessingStatus(code=m.ProcessingStatusCode.ACCEPTED),
        settlement=m.SettlementStatus(
            code=m.SettlementStatusCode.PENDING,
            reasons=(m.Reason(code="LACK", narrative="lack of securities"),),
        ),
        security=sec,
        quantity=qty,
        settlement_date=settle,
        from_balance=m.SubBalance.AVAILABLE,
        to_balance=m.SubBalance.BLOCKED,
    )


@SETTINGS
@given(tx=ids, account=ids, owner=bics, sec=securities(), qty=quantity_values, settle=dates)
def test_semt015_built_by_python_iso20022_is_read_by_the_hub(official, tx, account, owner, sec, qty, settle):
    content = {
        "AddtlParams": {"AcctOwnrTxId": tx},
        "AcctOwnr": {"AnyBIC": owner},
        "SfkpgAcct": {"Id": account},
        "FinInstrmId": security(sec),
        "IntraPosDtls": {
            "SttldQty": quantity(qty),
            "SttlmDt": {"Dt": day(settle)},
            "BalFr": {"Tp": {"Cd": "BLOK"}},
            "BalTo": {"Tp": {"Cd": "AVAI"}},
        },
    }
    xml = xsdata_document(Semt01500109, {"IntraPosMvmntConf": content})
    assert hub_reads(xml, "semt.015.001.09", official) == m.IntraPositionConfirmation(
        transaction_id=tx,
        account_owner_bic=owner,
        safekeeping_account=account,
        security=sec,
        settled_quantity=qty,
        settlement_date=settle,
        from_balance=m.SubBalance.BLOCKED,
        to_balance=m.SubBalance.AVAILABLE,
    )
