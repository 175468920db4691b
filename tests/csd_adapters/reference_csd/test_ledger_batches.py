"""The reference ledger's batches: one transaction for many leg operations, each answered as if alone.

A batch runs without a savepoint per operation (each checks before it writes), and falls back to one
savepoint per operation when the database raises an error inside one.
"""

import tempfile
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csd_adapters.base import InsufficientSecurities, LegState
from csd_adapters.reference_csd.ledger import Ledger

from ..conftest import _server_url, own_database
from ..test_reference_ledger import ISIN, apply, operation, seeded

LOT = Decimal(1000)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        ledger = seeded(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", LOT)
        yield ledger
        ledger.close()
        return
    if _server_url() is None:
        pytest.fail("DATABASE_URL must point at PostgreSQL for the PostgreSQL half of these tests")
    with own_database(tmp_path, "batches") as url:
        ledger = seeded(url, LOT)
        yield ledger
        ledger.close()


def reserve(ledger: Ledger, reference: str, quantity: Decimal, account: str = "A-OWN"):
    try:
        return ledger.reserve(reference=reference, account=account, isin=ISIN, quantity=quantity)
    except InsufficientSecurities as exc:
        return exc


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=30))
def test_operations_in_one_batch_have_the_outcomes_and_leave_the_books_they_would_one_by_one(operations):
    with tempfile.TemporaryDirectory() as folder:
        alone = seeded(f"sqlite:///{folder}/alone.sqlite3")
        batched = seeded(f"sqlite:///{folder}/batched.sqlite3")
        try:
            one_by_one = [apply(alone, op) for op in operations]
            in_one_batch = batched.in_batch(lambda: [apply(batched, op) for op in operations])
            assert in_one_batch == one_by_one
            assert batched.balances() == alone.balances()
            assert batched.discrepancies() == []
        finally:
            alone.close()
            batched.close()


def test_a_refused_leg_in_a_batch_writes_nothing_and_leaves_the_others_applied(ledger):
    first, lacking, third = ledger.in_batch(
        lambda: [
            reserve(ledger, "LEG-1", Decimal(400)),
            reserve(ledger, "LEG-2", Decimal(700)),
            reserve(ledger, "LEG-3", Decimal(500)),
        ]
    )
    assert (first.state, third.state) == (LegState.PREPARED, LegState.PREPARED)
    assert isinstance(lacking, InsufficientSecurities)
    assert ledger.balances()[("A-OWN", ISIN)] == (Decimal(100), Decimal(900))
    ledger.release(reference="LEG-1", account="A-OWN", isin=ISIN, quantity=Decimal(400))
    again = reserve(ledger, "LEG-2", Decimal(500))  # tried again later: not a replay, nothing remembered
    assert (again.state, again.replayed) == (LegState.PREPARED, False)
    assert ledger.discrepancies() == []


def test_a_replayed_reservation_in_a_batch_gives_back_what_it_moved(ledger):
    original = reserve(ledger, "LEG-1", Decimal(300))
    replayed = ledger.in_batch(lambda: reserve(ledger, "LEG-1", Decimal(300)))
    assert replayed.replayed
    assert replayed.csd_reference == original.csd_reference
    assert ledger.balances()[("A-OWN", ISIN)] == (Decimal(700), Decimal(300))
    assert ledger.discrepancies() == []


def test_a_batch_that_meets_a_database_error_runs_again_with_a_savepoint_per_operation(ledger, monkeypatch):
    post, failures, modes = ledger._sql.post, [], []

    def post_failing_once(connection, params):
        if not failures:
            failures.append(params["reference"])
            raise sa.exc.IntegrityError("INSERT INTO refcsd_postings", params, Exception("injected"))
        return post(connection, params)

    batch = ledger.batch

    def recorded_batch(*, savepoints=True):
        modes.append(savepoints)
        return batch(savepoints=savepoints)

    monkeypatch.setattr(ledger._sql, "post", post_failing_once)
    monkeypatch.setattr(ledger, "batch", recorded_batch)
    common = {"account": "A-OWN", "isin": ISIN, "quantity": Decimal(100)}
    outcomes = ledger.in_batch(
        lambda: [
            ledger.reserve(reference="LEG-1", **common),
            ledger.deliver(reference="LEG-1", credit_account="B-OWN", **common),
            ledger.reserve(reference="LEG-2", **common),
        ]
    )
    assert modes == [False, True]
    assert failures == ["LEG-1"]
    assert [o.state for o in outcomes] == [LegState.PREPARED, LegState.COMMITTED, LegState.PREPARED]
    assert not any(o.replayed for o in outcomes)
    balances = ledger.balances()
    assert balances[("A-OWN", ISIN)] == (Decimal(800), Decimal(100))
    assert balances[("B-OWN", ISIN)] == (Decimal(1100), Decimal(0))
    assert ledger.discrepancies() == []
