"""MT535 (holdings), MT536 (transactions) and MT537 (pending transactions) statements.

MT535 and MT536 map onto ``HoldingsStatement`` and ``TransactionsStatement``. An MT535 balance (``93B``,
``93C``) is signed: a short position (a contra account's) carries the ``N`` prefix both ways. MT537 has no shared model
(semt.018 is outside the hub's MX set): it is parsed, its general information checked, and it is
returned as the FIN tree.
"""

from __future__ import annotations

from iso20022.errors import BuildError, MessageError, ReasonCode
from iso20022.models import (
    CreditDebit,
    HoldingBalance,
    HoldingsStatement,
    Payment,
    QuantityType,
    Side,
    StatementMovement,
    SubBalance,
    SubBalanceQuantity,
    TransactionsStatement,
)
from iso20022.mt import fields as f
from iso20022.mt.access import F, Reader, S
from iso20022.mt.fin import FinMessage, Sequence
from iso20022.mt.settlement import (
    NO_REFERENCE,
    check_security,
    quantity_from,
    quantity_value,
    security_field,
    security_from,
)

_CREDIT_DEBIT = {Side.RECEIVE.value: CreditDebit.CREDIT, Side.DELIVER.value: CreditDebit.DEBIT}


def _page(reader: Reader, genl: Sequence | None) -> tuple[int, bool]:
    value = reader.need(genl, "28E")
    if value is None:
        return 1, True
    number, _, continuation = str(value).partition("/")
    if not number.isdigit() or continuation not in ("ONLY", "MORE", "LAST"):
        reader.fail(f":28E:{value} is not page/ONLY|MORE|LAST", genl.field("28E"))
        return 1, True
    return int(number), continuation != "MORE"


def _page_field(page_number: int, last_page: bool) -> f.Field:
    if not 0 < page_number < 100000:
        raise BuildError(
            MessageError(
                reason=ReasonCode.OTHER,
                path=":28E:",
                message=f"page number {page_number} does not fit 5 digits",
            )
        )
    continuation = "MORE" if not last_page else "ONLY" if page_number == 1 else "LAST"
    return F("28E", None, f"{page_number:05d}/{continuation}")


def _genl_common(reader: Reader, genl: Sequence | None) -> dict[str, object]:
    seme = reader.need(genl, "20C", "SEME", ReasonCode.REFERENCE)
    reader.function(genl, "NEWM")
    page_number, last_page = _page(reader, genl)
    if genl is not None and genl.value("17B", "CONS") is True:
        reader.fail(
            "a consolidated statement (:17B::CONS//Y, several sub-accounts) is not one the hub reads: "
            "it takes one statement per safekeeping account",
            genl.field("17B", "CONS"),
            ReasonCode.UNSUPPORTED,
        )
    return {
        "statement_id": None if seme == NO_REFERENCE else seme,
        "page_number": page_number,
        "last_page": last_page,
        "frequency": reader.need(genl, "22F", "SFRE"),
        "update_type": reader.need(genl, "22F", "CODE"),
        "basis": reader.need(genl, "22F", "STBA"),
        "safekeeping_account": reader.need(genl, "97A", "SAFE", ReasonCode.SAFEKEEPING_ACCOUNT),
        "account_owner_bic": reader.optional(genl, "95P", "ACOW"),
    }


def _write_genl(
    model: HoldingsStatement | TransactionsStatement,
    date_field: f.Field,
    active: bool,
    statement_type: str | None,
) -> Sequence:
    return S(
        "GENL",
        _page_field(model.page_number, model.last_page),
        F("20C", "SEME", model.statement_id or NO_REFERENCE),
        F("23G", None, "NEWM"),
        date_field,
        F("22F", "SFRE", model.frequency),
        F("22F", "CODE", model.update_type),
        F("22F", "STTY", statement_type),
        F("22F", "STBA", model.basis),
        F("95P", "ACOW", model.account_owner_bic),
        F("97A", "SAFE", model.safekeeping_account),
        F("17B", "ACTI", active),
        F("17B", "CONS", False),
    )


def _securities(reader: Reader, root: Sequence):
    for subsafe in root.sequences("SUBSAFE"):
        if subsafe.field("97a", "SAFE") is not None:
            reader.fail(
                "SUBSAFE names its own safekeeping account: a sub-account statement is not one the hub reads",
                subsafe,
                ReasonCode.UNSUPPORTED,
            )
        for fin in subsafe.sequences("FIN"):
            security = security_from(reader.need(fin, "35B", None, ReasonCode.SECURITY))
            check_security(reader, security, fin)
            yield fin, security


# -------------------------------------------------------------------------------------------- MT535


def _same_kind(reader: Reader, aggregate, balance, at) -> None:
    """A balance is of the aggregate's kind (UNIT or FAMT): one of the other kind cannot be added to or
    compared with it."""
    if aggregate is not None and balance is not None and balance.kind != aggregate.kind:
        reader.fail(
            f"a balance in {balance.kind} under an aggregate in {aggregate.kind}", at, ReasonCode.QUANTITY
        )


def read_holdings(message: FinMessage) -> HoldingsStatement:
    reader = Reader(message.message_type)
    genl = reader.seq(message.text, "GENL")
    common = _genl_common(reader, genl)
    statement_date = reader.need(genl, "98a", "STAT", ReasonCode.SETTLEMENT_DATE)
    balances = []
    for fin, security in _securities(reader, message.text):
        aggregate = reader.need(fin, "93B", "AGGR", ReasonCode.QUANTITY)
        available = reader.optional(fin, "93B", "AVAI")
        not_available = reader.optional(fin, "93B", "NAVL")
        sub_balances = []
        for subbal in fin.sequences("SUBBAL"):
            detail = subbal.field("93C")
            if detail is None:
                reader.fail("SUBBAL without a :93C: balance", subbal, ReasonCode.QUANTITY)
                continue
            try:
                balance = SubBalance(detail.qualifier)
            except ValueError:
                reader.fail(
                    f":93C::{detail.qualifier} is not a sub-balance type the hub knows",
                    detail,
                    ReasonCode.QUANTITY,
                )
                continue
            sub_balances.append(SubBalanceQuantity(balance=balance, quantity=detail.value.amount))
            _same_kind(reader, aggregate, detail.value, detail)
        for balance in (available, not_available):
            _same_kind(reader, aggregate, balance, fin)
        if security is None or aggregate is None:
            continue
        balances.append(
            HoldingBalance(
                security=security,
                aggregate=aggregate.amount,
                quantity_type=QuantityType(aggregate.kind),
                available=available.amount if available else None,
                not_available=not_available.amount if not_available else None,
                sub_balances=tuple(sub_balances),
            )
        )
    reader.check()
    return HoldingsStatement(statement_date=statement_date, balances=tuple(balances), **common)


def write_holdings(model: HoldingsStatement) -> Sequence:
    fins = []
    for balance in model.balances:
        kind = balance.quantity_type.value
        fins.append(
            S(
                "FIN",
                security_field(balance.security),
                F("93B", "AGGR", f.Balance(kind, balance.aggregate)),
                F(
                    "93B",
                    "AVAI",
                    f.Balance(kind, balance.available) if balance.available is not None else None,
                ),
                F(
                    "93B",
                    "NAVL",
                    f.Balance(kind, balance.not_available) if balance.not_available is not None else None,
                ),
                *[
                    S(
                        "SUBBAL",
                        F(
                            "93C",
                            sub.balance.value,
                            f.BalanceDetail(
                                kind, "AVAI" if sub.balance is SubBalance.AVAILABLE else "NAVL", sub.quantity
                            ),
                        ),
                    )
                    for sub in balance.sub_balances
                ],
            )
        )
    return S(
        "",
        _write_genl(model, F("98A", "STAT", model.statement_date), bool(fins), "CUST"),
        S("SUBSAFE", *fins) if fins else None,
    )


# -------------------------------------------------------------------------------------------- MT536


def read_transactions(message: FinMessage) -> TransactionsStatement:
    reader = Reader(message.message_type)
    genl = reader.seq(message.text, "GENL")
    common = _genl_common(reader, genl)
    period = reader.need(genl, "69A", "STAT", ReasonCode.SETTLEMENT_DATE)
    movements = []
    for fin, security in _securities(reader, message.text):
        transactions = list(fin.sequences("TRAN"))
        if not transactions:
            reader.fail("FIN without a TRAN sequence", fin)
        for tran in transactions:
            references = {}
            for link in tran.sequences("LINK"):
                for field in link.fields("20C"):
                    references.setdefault(field.qualifier, field.value)
            if "RELA" not in references:
                reader.fail(
                    "TRAN/LINK :20C::RELA// (the transaction reference) is missing",
                    tran,
                    ReasonCode.REFERENCE,
                )
            detail = reader.seq(tran, "TRANSDET")
            quantity = quantity_from(reader.need(detail, "36B", "PSTA", ReasonCode.QUANTITY))
            side = reader.code(detail, "22H", "REDE", Side)
            payment = reader.code(detail, "22H", "PAYM", Payment)
            date = reader.need(detail, "98a", "ESET", ReasonCode.SETTLEMENT_DATE)
            transaction_type = reader.optional(detail, "22F", "SETR") or "TRAD"
            activity = reader.need(detail, "22F", "TRAN", ReasonCode.UNSUPPORTED)
            if activity not in (None, "SETT"):
                reader.fail(
                    f":22F::TRAN//{activity} is not a settlement posting (SETT), the only kind the hub reads",
                    detail.field("22F", "TRAN"),
                    ReasonCode.UNSUPPORTED,
                )
            if None in (security, quantity, side, payment, date) or "RELA" not in references:
                continue
            movements.append(
                StatementMovement(
                    security=security,
                    transaction_id=references["RELA"],
                    quantity=quantity,
                    credit_debit=_CREDIT_DEBIT[side.value],
                    settlement_date=date,
                    account_servicer_transaction_id=references.get("ASRF"),
                    market_infrastructure_transaction_id=references.get("MITI"),
                    payment=payment,
                    transaction_type=transaction_type,
                )
            )
    reader.check()
    return TransactionsStatement(
        period_start=period.start if period else None,
        period_end=period.end if period else None,
        movements=tuple(movements),
        **common,
    )


def write_transactions(model: TransactionsStatement) -> Sequence:
    fins: list[Sequence] = []
    current = None
    for movement in model.movements:
        if current is None or movement.security != current[0]:
            current = (movement.security, S("FIN", security_field(movement.security)))
            fins.append(current[1])
        side = Side.RECEIVE if movement.credit_debit is CreditDebit.CREDIT else Side.DELIVER
        current[1].add(
            S(
                "TRAN",
                S("LINK", F("20C", "RELA", movement.transaction_id)),
                S("LINK", F("20C", "ASRF", movement.account_servicer_transaction_id))
                if movement.account_servicer_transaction_id
                else None,
                S("LINK", F("20C", "MITI", movement.market_infrastructure_transaction_id))
                if movement.market_infrastructure_transaction_id
                else None,
                S(
                    "TRANSDET",
                    F("36B", "PSTA", quantity_value(movement.quantity)),
                    # the 22a indicators (22F and 22H) before the 98a dates, as the field order has them
                    F("22F", "TRAN", "SETT"),
                    F("22F", "SETR", movement.transaction_type),
                    F("22H", "REDE", side.value),
                    F("22H", "PAYM", movement.payment.value),
                    F("98A", "ESET", movement.settlement_date),
                ),
            )
        )
    period = f.Period(model.period_start, model.period_end)
    return S(
        "",
        _write_genl(model, F("69A", "STAT", period), bool(fins), None),
        S("SUBSAFE", *fins) if fins else None,
    )


# -------------------------------------------------------------------------------------------- MT537


def read_pending(message: FinMessage) -> FinMessage:
    """Check the general information of an MT537 and return its tree (no shared model)."""
    reader = Reader(message.message_type)
    genl = reader.seq(message.text, "GENL")
    reader.need(genl, "20C", "SEME", ReasonCode.REFERENCE)
    reader.function(genl, "NEWM", "CANC", "REPL", "RMDR", "DUPL", "CODU", "COPY")
    _page(reader, genl)
    reader.need(genl, "98a", "STAT", ReasonCode.SETTLEMENT_DATE)
    statement_structure = reader.need(genl, "22H", "STST")
    reader.need(genl, "97A", "SAFE", ReasonCode.SAFEKEEPING_ACCOUNT)
    reader.need(genl, "17B", "ACTI")
    if statement_structure not in (None, "STAT", "TRAN", "PENA"):
        reader.fail(f":22H::STST//{statement_structure} is not STAT, TRAN or PENA", genl)
    reader.check()
    return message
