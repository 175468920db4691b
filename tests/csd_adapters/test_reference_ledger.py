"""The reference CSD's ledger on its own: invariants under random operations and replays (hypothesis),
the rules its database enforces by itself, and reservations racing in separate processes on PostgreSQL."""

import datetime as dt
import json
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csd_adapters.base import AdapterError, LegConflict, LegOutcome, LegState
from csd_adapters.reference_csd.ledger import Ledger, SeedError, seed_document

from ..conftest import REPO_ROOT
from .conftest import KNOWN_ISIN, own_database

ISIN = KNOWN_ISIN
ACCOUNTS = ["A-OWN", "B-OWN", "C-CLIENT", "OMNIBUS-X"]


def seeded(url: str, lot: Decimal = Decimal(1000)) -> Ledger:
    ledger = Ledger(url, timezone="Africa/Johannesburg")
    ledger.seed(opening_document(lot))
    return ledger


def opening_document(lot: Decimal = Decimal(1000)) -> dict:
    """Three participant accounts and an omnibus issued here, one participant account held through a
    mirror (contra) account: every security nets to zero."""
    return seed_document(
        [("ISSUANCE", "ISSUANCE"), ("MIRROR-X", "MIRROR")] + [(a, _kind(a)) for a in ACCOUNTS],
        [("ISSUANCE", ISIN, -lot * 3), ("MIRROR-X", ISIN, -lot)] + [(a, ISIN, lot) for a in ACCOUNTS],
    )


def _kind(account: str) -> str:
    return (
        account.split("-")[1] if "-" in account and account.split("-")[1] in ("OWN", "CLIENT") else "OMNIBUS"
    )


operation = st.tuples(
    st.sampled_from(["reserve", "deliver", "release"]),
    st.integers(0, 7),  # leg number
    st.sampled_from(ACCOUNTS + ["MIRROR-X"]),
    st.sampled_from(ACCOUNTS),
    st.decimals(min_value=Decimal("0.5"), max_value=Decimal(1500), places=1),
)


def apply(ledger: Ledger, op) -> object:
    kind, leg, debit, credit, quantity = op
    if debit == credit:
        return "same account"
    reference = f"LEG{leg}"
    try:
        if kind == "reserve":
            return ledger.reserve(reference=reference, account=debit, isin=ISIN, quantity=quantity)
        if kind == "deliver":
            return ledger.deliver(
                reference=reference, account=debit, credit_account=credit, isin=ISIN, quantity=quantity
            )
        return ledger.release(reference=reference, account=debit, isin=ISIN, quantity=quantity)
    except AdapterError as exc:
        return type(exc)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=25))
def test_random_operations_and_their_replays_conserve_securities_and_keep_the_books_balanced(operations):
    with tempfile.TemporaryDirectory() as folder:
        ledger = seeded(f"sqlite:///{folder}/ledger.sqlite3")
        try:
            for op in operations:
                first = apply(ledger, op)
                again = apply(ledger, op)
                if not isinstance(first, type | str):
                    # a replay returns the original outcome and changes nothing
                    assert again == type(first)(**{**_fields(first), "replayed": True})
            assert ledger.discrepancies() == []
            postings = ledger.postings()
            assert len({p.reference for p in postings}) == len(postings)
            for (account, _), (available, blocked) in ledger.balances().items():
                assert blocked >= 0
                if account not in ("ISSUANCE", "MIRROR-X"):
                    assert available >= 0
            today = ledger.today()
            for account in ACCOUNTS:
                total = sum(
                    (
                        m.quantity if m.credit else -m.quantity
                        for m in ledger.movements(account, today, today)
                    ),
                    Decimal(0),
                )
                assert sum(p.total for p in ledger.positions(account, today)) == total
        finally:
            ledger.close()


def _fields(outcome) -> dict:
    return {name: getattr(outcome, name) for name in outcome.__dataclass_fields__}


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        ledger = seeded(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
        yield ledger
        ledger.close()
        return
    from .conftest import _server_url

    if _server_url() is None:
        pytest.fail("DATABASE_URL must point at PostgreSQL for the PostgreSQL half of these tests")
    with own_database(tmp_path, "unit") as url:
        ledger = seeded(url)
        yield ledger
        ledger.close()


def test_the_database_refuses_a_negative_available_balance_on_a_participant_account(ledger):
    with pytest.raises(sa.exc.IntegrityError), ledger.engine.begin() as c:
        c.execute(sa.text("UPDATE refcsd_balances SET available = -1 WHERE account = 'A-OWN'"))


def test_the_database_lets_a_contra_account_go_negative(ledger):
    with ledger.engine.begin() as c:
        c.execute(sa.text("UPDATE refcsd_balances SET available = available - 1 WHERE account = 'MIRROR-X'"))


def test_the_database_refuses_a_negative_blocked_balance_even_on_a_contra_account(ledger):
    with pytest.raises(sa.exc.IntegrityError), ledger.engine.begin() as c:
        c.execute(sa.text("UPDATE refcsd_balances SET blocked = -1 WHERE account = 'ISSUANCE'"))


def test_the_database_refuses_to_turn_a_participant_balance_into_a_contra_one(ledger):
    with pytest.raises(sa.exc.IntegrityError), ledger.engine.begin() as c:
        c.execute(sa.text("UPDATE refcsd_balances SET contra = true WHERE account = 'A-OWN'"))


def test_the_database_refuses_a_second_reservation_for_one_leg(ledger):
    ledger.reserve(reference="L1", account="A-OWN", isin=ISIN, quantity=Decimal(1))
    with pytest.raises(sa.exc.IntegrityError), ledger.engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO refcsd_reservations (reference, account, isin, quantity, state, applied, reserved_on)"
                " VALUES ('L1', 'A-OWN', :isin, 1, 'RESERVED', true, :day)"
            ),
            {"isin": ISIN, "day": dt.date.today()},
        )


def test_the_database_refuses_a_posting_of_nothing(ledger):
    with pytest.raises(sa.exc.IntegrityError), ledger.engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO refcsd_postings (reference, kind, isin, debit_account, credit_account, quantity,"
                " from_blocked, settlement_date, booked_at) VALUES ('X', 'DELIVERY', :isin, 'A-OWN', 'B-OWN', 0,"
                " false, :day, :now)"
            ),
            {"isin": ISIN, "day": dt.date.today(), "now": dt.datetime.now(dt.UTC)},
        )


def test_a_worked_delivery_moves_securities_and_leaves_the_books_balanced(ledger):
    prepared = ledger.reserve(reference="L1", account="A-OWN", isin=ISIN, quantity=Decimal(400))
    assert prepared.state is LegState.PREPARED
    assert ledger.balances()[("A-OWN", ISIN)] == (Decimal(600), Decimal(400))
    committed = ledger.deliver(
        reference="L1", account="A-OWN", credit_account="B-OWN", isin=ISIN, quantity=Decimal(400)
    )
    assert committed.state is LegState.COMMITTED
    assert ledger.balances()[("A-OWN", ISIN)] == (Decimal(600), 0)
    assert ledger.balances()[("B-OWN", ISIN)] == (Decimal(1400), 0)
    assert ledger.postings()[-1].from_blocked is True
    assert ledger.discrepancies() == []


def test_a_holdings_statement_for_an_earlier_day_leaves_out_later_postings(ledger):
    today = ledger.today()
    ledger.reserve(reference="L1", account="A-OWN", isin=ISIN, quantity=Decimal(10))
    assert ledger.positions("A-OWN", today - dt.timedelta(days=1)) == ()
    assert ledger.positions("A-OWN", today)[0].blocked == Decimal(10)


def test_seeding_twice_with_the_same_document_books_once_and_a_different_one_is_refused(ledger):
    document = seed_document([("A-OWN", "OWN")], [])
    with pytest.raises(SeedError):
        ledger.seed(document)
    count = len(ledger.postings())
    assert "nothing to do" in ledger.seed(json.loads(json.dumps(opening_document())))
    assert len(ledger.postings()) == count


def test_an_unbalanced_seed_is_refused(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with pytest.raises(SeedError, match="sum to zero"):
        ledger.seed(
            seed_document(
                [("ISSUANCE", "ISSUANCE"), ("A-OWN", "OWN")],
                [("ISSUANCE", ISIN, Decimal(-5)), ("A-OWN", ISIN, Decimal(6))],
            )
        )
    assert ledger.postings() == []


RACER = """
import sys
from decimal import Decimal
from csd_adapters.base import InsufficientSecurities
from csd_adapters.reference_csd.ledger import Ledger
ledger = Ledger(sys.argv[1])
won = 0
for n in range(10):
    try:
        ledger.reserve(reference=f"{sys.argv[2]}-{n}", account="A-OWN", isin=sys.argv[3], quantity=Decimal(100))
        won += 1
    except InsufficientSecurities:
        pass
print(won)
"""


def test_reservations_racing_in_separate_processes_never_overdraw_an_account(tmp_path):
    from .conftest import _server_url

    if _server_url() is None:
        pytest.fail("DATABASE_URL must point at PostgreSQL for this test")
    with own_database(tmp_path, "race") as url:
        seeded(url).close()
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, url, f"P{i}", ISIN],
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(4)
        ]
        won = sum(int(racer.communicate(timeout=120)[0]) for racer in racers)
        ledger = Ledger(url)
        try:
            assert won == 10
            assert ledger.balances()[("A-OWN", ISIN)] == (0, Decimal(1000))
            assert ledger.discrepancies() == []
        finally:
            ledger.close()


def test_the_command_line_seeds_a_ledger_once_and_shows_its_key(tmp_path):
    seed_file = tmp_path / "nsd.json"
    seed_file.write_text(json.dumps(opening_document()))
    database = f"sqlite:///{tmp_path / 'nsd.sqlite3'}"
    command = [sys.executable, "-m", "csd_adapters.reference_csd"]
    first = subprocess.run(
        [*command, "seed", "--csd", "NSD", "--positions", str(seed_file), "--database", database],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    again = subprocess.run(
        [*command, "seed", "--csd", "nsd", "--positions", str(seed_file), "--database", database],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    key = subprocess.run(
        [*command, "key", "--csd", "NSD", "--database", database],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr
    assert "NSD: seeded 1 securities with" in first.stdout
    assert "nothing to do" in again.stdout
    assert len(bytes.fromhex(json.loads(key.stdout)["public_key"])) == 32
    ledger = Ledger(database, timezone="Europe/Moscow")  # NSD's business date
    assert ledger.positions("OMNIBUS-X", ledger.today())[0].available == Decimal(1000)
    ledger.close()
    Path(tmp_path / "bad.json").write_text(
        json.dumps({"positions": [{"account": "A", "isin": ISIN, "quantity": 1}]})
    )
    bad = subprocess.run(
        [
            *command,
            "seed",
            "--csd",
            "NSD",
            "--positions",
            str(tmp_path / "bad.json"),
            "--database",
            f"sqlite:///{tmp_path / 'other.sqlite3'}",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "cannot seed" in bad.stderr


def test_opening_positions_are_dated_as_the_seed_document_says(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    ledger.seed({**opening_document(), "opening_date": "2026-01-02"})
    assert {p.settlement_date for p in ledger.postings()} == {dt.date(2026, 1, 2)}
    assert ledger.positions("A-OWN", dt.date(2026, 1, 1)) == ()
    assert ledger.positions("A-OWN", dt.date(2026, 1, 2))[0].available == Decimal(1000)


def test_a_seed_that_would_overdraw_a_participant_account_is_refused(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    document = seed_document(
        [("A-OWN", "OWN"), ("B-OWN", "OWN")], [("A-OWN", ISIN, Decimal(-5)), ("B-OWN", ISIN, Decimal(5))]
    )
    with pytest.raises(SeedError, match="cannot book"):
        ledger.seed(document)
    assert ledger.postings() == []


@pytest.mark.parametrize("first_side", ["DELI", "RECE"])
def test_a_delivery_settles_once_both_of_its_instructions_are_in_whichever_comes_first(ledger, first_side):
    ledger.reserve(reference="L1", account="A-OWN", isin=ISIN, quantity=Decimal(40))
    sides = {"DELI": ("A-OWN", "B-OWN"), "RECE": ("B-OWN", "A-OWN")}
    second_side = "RECE" if first_side == "DELI" else "DELI"

    def instruct(side):
        account, counterparty = sides[side]
        return ledger.instruct(
            reference="L1",
            side=side,
            account=account,
            counterparty_account=counterparty,
            isin=ISIN,
            quantity=Decimal(40),
        )

    assert instruct(first_side) is None
    assert instruct(first_side) is None  # replayed, still waiting for the other side
    settled = instruct(second_side)
    assert settled.state is LegState.COMMITTED
    assert instruct(first_side) == LegOutcome(**{**_fields(settled), "replayed": True})
    assert ledger.balances()[("B-OWN", ISIN)] == (Decimal(1040), 0)
    assert [p.reference for p in ledger.postings()].count("L1") == 1


def test_instructions_of_one_leg_that_disagree_are_refused(ledger):
    ledger.reserve(reference="L1", account="A-OWN", isin=ISIN, quantity=Decimal(40))
    ledger.instruct(
        reference="L1",
        side="DELI",
        account="A-OWN",
        counterparty_account="B-OWN",
        isin=ISIN,
        quantity=Decimal(40),
    )
    with pytest.raises(LegConflict):
        ledger.instruct(
            reference="L1",
            side="RECE",
            account="C-CLIENT",
            counterparty_account="A-OWN",
            isin=ISIN,
            quantity=Decimal(40),
        )
    with pytest.raises(LegConflict):
        ledger.instruct(
            reference="L1",
            side="DELI",
            account="A-OWN",
            counterparty_account="B-OWN",
            isin=ISIN,
            quantity=Decimal(41),
        )
    assert ledger.balances()[("A-OWN", ISIN)] == (Decimal(960), Decimal(40))
