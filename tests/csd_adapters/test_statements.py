"""What the MX and MT adapters take for a statement of holdings or transactions: only the whole of it, the
complete settled statement of the account, day and period asked for. Anything else (one page of several, a
delta, a traded basis, another period) is a ``ProtocolError``, which reconciliation records as a gap rather
than reading it as the account's books. Each statement is written by the reference CSD's own dialect and
answered by a stand-in for the CSD. And only the CSD's own word that it keeps no such account is an
``UnknownAccount``: any other 404 is a ``ProtocolError``. A quantity keeps its kind (units or face amount)
from the CSD's statement to the hub."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from csd_adapters.base import Leg, ProtocolError, UnknownAccount
from csd_adapters.profiles import profile_for
from csd_adapters.reference_csd.dialects import dialect_for
from csd_adapters.reference_csd.ledger import Ledger, seed_document
from csd_adapters.reference_csd.service import ReferenceCsd
from csd_adapters.registry import adapter_for
from csd_adapters.transport import Reply, Transport, WsgiTransport
from iso20022 import models as m

from .conftest import KNOWN_ISIN

DAY = dt.date(2026, 11, 26)
WEEK_BEFORE = dt.date(2026, 11, 20)
ACCOUNT = "DEMA-OWN"


class Answers(Transport):
    """The CSD's side: every request is answered with the one statement it was given."""

    def __init__(self, statement: m.Message, code: str) -> None:
        super().__init__()
        profile = profile_for(code)
        self.body = dialect_for(profile.standard, profile.bic).write(
            statement, to_bic="CSDHUBZZ", related=None
        )

    def _send(self, method, path, body, params, content_type) -> Reply:
        return Reply(status=200, content_type="application/octet-stream", parts=(self.body,))


def adapter_answering(statement: m.Message, code: str):
    profile = profile_for(code)
    return adapter_for(profile.adapter, profile=profile, transport=Answers(statement, code))


def holdings(**fields) -> m.HoldingsStatement:
    line = m.HoldingBalance(
        security=m.Security(isin=KNOWN_ISIN), aggregate=Decimal(100), available=Decimal(100), not_available=0
    )
    return m.HoldingsStatement(
        statement_date=DAY, safekeeping_account=ACCOUNT, statement_id="H1", balances=(line,), **fields
    )


def movement(day: dt.date) -> m.StatementMovement:
    return m.StatementMovement(
        security=m.Security(isin=KNOWN_ISIN),
        transaction_id="T1L1",
        quantity=m.Quantity(amount=Decimal(5)),
        credit_debit=m.CreditDebit.CREDIT,
        settlement_date=day,
    )


def transactions(**fields) -> m.TransactionsStatement:
    whole = {
        "period_start": WEEK_BEFORE,
        "period_end": DAY,
        "safekeeping_account": ACCOUNT,
        "statement_id": "T1",
        "movements": (movement(DAY),),
    }
    return m.TransactionsStatement(**{**whole, **fields})


def read(adapter, statement):
    if isinstance(statement, m.HoldingsStatement):
        return adapter.holdings(account=ACCOUNT, as_of=DAY)
    return adapter.transactions(account=ACCOUNT, since=WEEK_BEFORE, until=DAY)


CODES = pytest.mark.parametrize("code", ["NSD", "STRATE"])


@CODES
def test_a_whole_statement_of_the_account_day_and_period_asked_for_is_read(code):
    got = read(adapter_answering(holdings(), code), holdings())
    assert [(p.isin, p.total) for p in got.positions] == [(KNOWN_ISIN, 100)]
    moved = read(adapter_answering(transactions(), code), transactions())
    assert [(mv.reference, mv.quantity, mv.settlement_date) for mv in moved.movements] == [("T1L1", 5, DAY)]


REFUSED = {
    "holdings, page 1 with more to follow": (holdings(page_number=1, last_page=False), "more to follow"),
    "holdings, the last of several pages": (holdings(page_number=2, last_page=True), "page 2"),
    "holdings, a delta": (holdings(update_type="DELT"), "not complete"),
    "holdings, traded positions": (holdings(basis="TRAD"), "not of settled positions"),
    "holdings, contractual positions": (holdings(basis="CONT"), "not of settled positions"),
    "transactions, page 1 with more to follow": (
        transactions(page_number=1, last_page=False),
        "more to follow",
    ),
    "transactions, a delta": (transactions(update_type="DELT"), "not complete"),
    "transactions, traded": (transactions(basis="TRAD"), "not of settled positions"),
    "transactions of a shorter period than asked": (transactions(period_start=DAY), "got a statement of"),
    "transactions of a period that ends before the day asked": (
        transactions(period_end=DAY - dt.timedelta(days=1), movements=()),
        "got a statement of",
    ),
    "transactions with a movement before the period asked": (
        transactions(period_start=dt.date(2026, 11, 1), movements=(movement(dt.date(2026, 11, 2)),)),
        "settled on 2026-11-02",
    ),
}


@CODES
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_anything_but_the_whole_settled_statement_is_refused_not_read_as_the_books(code, case):
    statement, reason = REFUSED[case]
    with pytest.raises(ProtocolError, match=reason) as caught:
        read(adapter_answering(statement, code), statement)
    assert caught.value.permanent  # reconciliation records it as a gap in the account's statements


class NotFound(Transport):
    """Something between the hub and the CSD answers 404 to every request (a proxy that lost its route)."""

    def __init__(self, content_type: str, body: bytes) -> None:
        super().__init__()
        self.content_type, self.body = content_type, body

    def _send(self, method, path, body, params, content_type) -> Reply:
        return Reply(status=404, content_type=self.content_type, parts=(self.body,))


@CODES
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html", b"<html>Not Found</html>"),
        ("text/plain", b"no account DEMA-OWN"),
        ("application/json", b'{"reason_code": "SAFE", "account": "ANOTHER-OWN"}'),
        ("application/json", b'{"error": "not found"}'),
    ],
    ids=["html", "text", "another account", "no reason"],
)
def test_a_404_that_does_not_say_the_account_is_unknown_is_a_protocol_error(code, content_type, body):
    profile = profile_for(code)
    adapter = adapter_for(profile.adapter, profile=profile, transport=NotFound(content_type, body))
    with pytest.raises(ProtocolError, match="HTTP 404"):
        adapter.holdings(account=ACCOUNT, as_of=DAY)
    with pytest.raises(ProtocolError, match="HTTP 404"):
        adapter.transactions(account=ACCOUNT, since=DAY, until=DAY)


@CODES
def test_the_reference_csd_says_it_keeps_no_such_account_in_a_way_the_adapters_read(tmp_path, code):
    profile = profile_for(code)
    ledger = Ledger(f"sqlite:///{tmp_path / code}.sqlite3", timezone=profile.timezone)
    ledger.seed(seed_document([("ISSUANCE", "ISSUANCE")], []))
    transport = WsgiTransport(ReferenceCsd(profile, ledger))
    adapter = adapter_for(profile.adapter, profile=profile, transport=transport)
    with pytest.raises(UnknownAccount, match="no account NOSUCH-OWN"):
        adapter.holdings(account="NOSUCH-OWN", as_of=DAY)
    with pytest.raises(UnknownAccount, match="no account NOSUCH-OWN"):
        adapter.transactions(account="NOSUCH-OWN", since=DAY, until=DAY)
    # any other path the CSD does not serve is no statement about an account
    with pytest.raises(ProtocolError, match="HTTP 404"):
        transport.request("GET", "/statements/pending", params={"account": "NOSUCH-OWN"})
    ledger.close()


@CODES
def test_a_face_amount_is_read_as_one_not_as_units(code):
    famt = m.HoldingBalance(
        security=m.Security(isin=KNOWN_ISIN),
        aggregate=Decimal(5000),
        quantity_type=m.QuantityType.FACE_AMOUNT,
    )
    statement = replace(holdings(), balances=(famt,))
    (position,) = read(adapter_answering(statement, code), statement).positions
    assert (position.total, position.face_amount) == (5000, True)
    moved = replace(movement(DAY), quantity=m.Quantity(amount=Decimal(5), type=m.QuantityType.FACE_AMOUNT))
    statement = transactions(movements=(moved,))
    (got,) = read(adapter_answering(statement, code), statement).movements
    assert (got.quantity, got.face_amount) == (5, True)
    (units,) = read(adapter_answering(holdings(), code), holdings()).positions
    assert not units.face_amount


@CODES
def test_the_reference_csd_states_a_face_amount_security_in_face_amount(tmp_path, code):
    profile = profile_for(code)
    ledger = Ledger(f"sqlite:///{tmp_path / code}.sqlite3", timezone=profile.timezone)
    ledger.seed(
        seed_document(
            [("ISSUANCE", "ISSUANCE"), ("A-OWN", "OWN"), ("B-OWN", "OWN")],
            [("ISSUANCE", KNOWN_ISIN, Decimal(-10_000)), ("A-OWN", KNOWN_ISIN, Decimal(10_000))],
            [(KNOWN_ISIN, True)],
        )
    )
    adapter = adapter_for(
        profile.adapter, profile=profile, transport=WsgiTransport(ReferenceCsd(profile, ledger))
    )
    wire = replace(leg_between_accounts(code, "A-OWN", "B-OWN"), face_amount=True)
    adapter.prepare(wire)
    today = adapter.commit(wire).settlement_date
    (position,) = adapter.holdings(account="B-OWN", as_of=today).positions
    assert (position.total, position.face_amount) == (1000, True)
    (moved,) = adapter.transactions(account="B-OWN", since=today, until=today).movements
    assert (moved.quantity, moved.face_amount) == (1000, True)
    ledger.close()


def leg_between_accounts(code: str, debit: str, credit: str) -> Leg:
    return Leg(
        leg_id="FAMT1",
        csd=code,
        isin=KNOWN_ISIN,
        quantity=Decimal(1000),
        debit_account=debit,
        credit_account=credit,
        intended_settlement_date=dt.date.today(),
        transfer_reference="TFAMT1",
    )
