"""The conformance suite: what every CSD adapter must do against its CSD (see README.md).

Subclass ``ConformanceSuite`` in a test module (``class TestMyCsd(ConformanceSuite)``) and provide a
``conformance_target`` fixture returning a ``ConformanceTarget``. Every test opens its own accounts, so
the tests do not depend on each other or on their order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from csd_adapters import headers
from csd_adapters.base import (
    AdapterError,
    BlockedAccount,
    CsdUnavailable,
    HeaderNotNamingCsd,
    HeightEndorsedOtherwise,
    InsufficientSecurities,
    Leg,
    LegAborted,
    LegCommitted,
    LegConflict,
    LegNotPrepared,
    LegState,
    NotABlockHeader,
    UnknownAccount,
    UnknownSecurity,
    key_id_for,
)
from csd_adapters.conformance.target import ConformanceTarget

LOT = Decimal(1000)


def new_id(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12].upper()


def funded_account(target: ConformanceTarget, quantity: Decimal = LOT) -> str:
    account = f"C{new_id()}-OWN"
    target.control.open_account(account)
    target.control.fund(account=account, isin=target.isin, quantity=quantity, reference=new_id("F"))
    return account


def empty_account(target: ConformanceTarget) -> str:
    account = f"C{new_id()}-OWN"
    target.control.open_account(account)
    return account


def leg_between(
    target: ConformanceTarget,
    debit: str,
    credit: str,
    quantity: Decimal,
    *,
    isin: str | None = None,
    leg_id: str | None = None,
) -> Leg:
    return Leg(
        leg_id=leg_id or str(uuid.uuid4()),
        csd=target.name,
        isin=isin or target.isin,
        quantity=quantity,
        debit_account=debit,
        credit_account=credit,
        intended_settlement_date=dt.date.today(),
        transfer_reference=new_id("T"),
    )


def new_height() -> int:
    """A height of the hub's ledger no other test has used (the CSD remembers every height it endorsed)."""
    return uuid.uuid4().int % 2**62 + 1


def block_header(target: ConformanceTarget, *, height: int | None = None, **fields) -> bytes:
    """A block header of the hub's ledger naming the target CSD, in its canonical bytes."""
    header = {
        "version": headers.HEADER_VERSION,
        "height": height or new_height(),
        "previous_hash": "ab" * 32,
        "merkle_root": "cd" * 32,
        "entry_count": 1,
        "sealed_at": "2026-11-26T09:00:00.000000Z",
        "hub_key_id": "0123456789abcdef",
        "csds": sorted({target.name, "OTHERCSD"}),
    }
    return headers.canonical(header | fields)


def shows_faults(test):
    """Marks a test that needs the CSD to show a fault (a lost or doubled reply, slowness, an outage)."""
    test.shows_faults = True
    return test


class ConformanceSuite:
    """Idempotency, refusals, concurrency, statements and endorsements of one adapter against its CSD."""

    @classmethod
    def fault_tests(cls) -> list[str]:
        """The tests that need the CSD to show faults: a subclass whose CSD cannot show them (a ledger in
        this process) sets them to None, so they are not collected rather than skipped."""
        return [
            name
            for name in dir(cls)
            if name.startswith("test_") and getattr(getattr(cls, name), "shows_faults", False)
        ]

    @pytest.fixture(autouse=True)
    def _clean_faults(self, conformance_target: ConformanceTarget):
        conformance_target.control.clear_faults()
        yield
        conformance_target.control.clear_faults()

    @pytest.fixture
    def target(self, conformance_target: ConformanceTarget) -> ConformanceTarget:
        return conformance_target

    @pytest.fixture
    def today(self, target: ConformanceTarget) -> dt.date:
        """The CSD's business date: the settlement date of a posting booked now."""
        debit, credit = funded_account(target, Decimal(1)), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(1))
        target.adapter.prepare(leg)
        return target.adapter.commit(leg).settlement_date

    # -------------------------------------------------------------------------------- the happy path

    def test_prepare_moves_the_quantity_from_available_to_blocked(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        outcome = target.adapter.prepare(leg_between(target, debit, credit, Decimal(300)))
        assert outcome.state is LegState.PREPARED
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (Decimal(700), Decimal(300))

    def test_commit_posts_the_blocked_quantity_to_the_credit_account(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(250))
        target.adapter.prepare(leg)
        outcome = target.adapter.commit(leg)
        assert outcome.state is LegState.COMMITTED
        assert outcome.settlement_date == today
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        got = target.adapter.holdings(account=credit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (Decimal(750), 0)
        assert (got.available, got.blocked) == (Decimal(250), 0)

    def test_abort_gives_the_reserved_quantity_back(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(400))
        target.adapter.prepare(leg)
        assert target.adapter.abort(leg).state is LegState.ABORTED
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (LOT, 0)

    # --------------------------------------------------------------------------------- idempotency

    def test_replayed_prepare_reserves_only_once(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(100))
        outcomes = [target.adapter.prepare(leg) for _ in range(3)]
        assert {o.csd_reference for o in outcomes} == {outcomes[0].csd_reference}
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (Decimal(900), Decimal(100))

    def test_replayed_commit_posts_only_once(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(100))
        target.adapter.prepare(leg)
        outcomes = [target.adapter.commit(leg) for _ in range(3)]
        assert {(o.state, o.csd_reference) for o in outcomes} == {
            (LegState.COMMITTED, outcomes[0].csd_reference)
        }
        assert target.adapter.holdings(account=credit, as_of=today).position(target.isin).total == 100
        moves = target.adapter.transactions(account=credit, since=today, until=today).movements
        assert [(m.reference, m.quantity) for m in moves] == [(leg.reference, Decimal(100))]

    def test_replayed_abort_releases_only_once(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(100))
        other = leg_between(target, debit, credit, Decimal(200))
        target.adapter.prepare(leg)
        target.adapter.prepare(other)
        for _ in range(3):
            assert target.adapter.abort(leg).state is LegState.ABORTED
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (Decimal(800), Decimal(200))

    @pytest.mark.parametrize("operation", ["prepare", "commit", "abort"])
    @shows_faults
    def test_an_operation_whose_reply_was_lost_is_applied_once_when_replayed(self, target, today, operation):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(100))
        if operation != "prepare":
            target.adapter.prepare(leg)
        _inject(target, "drop_reply", count=1)
        first = _attempt(getattr(target.adapter, operation), leg)  # retried by the adapter, or raised
        outcome = getattr(target.adapter, operation)(leg)  # the hub's own replay
        if not isinstance(first, AdapterError):
            assert first == outcome
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        expected = {"prepare": (900, 100), "commit": (900, 0), "abort": (1000, 0)}[operation]
        assert (held.available, held.blocked) == tuple(Decimal(q) for q in expected)
        credited = target.adapter.holdings(account=credit, as_of=today).position(target.isin).total
        assert credited == (100 if operation == "commit" else 0)

    @shows_faults
    def test_a_reply_sent_twice_is_taken_once(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(100))
        _inject(target, "reply_twice", count=1)
        target.adapter.prepare(leg)
        _inject(target, "reply_twice", count=1)
        assert target.adapter.commit(leg).state is LegState.COMMITTED
        assert target.adapter.holdings(account=credit, as_of=today).position(target.isin).total == 100
        assert target.adapter.holdings(account=debit, as_of=today).position(target.isin).total == 900

    @shows_faults
    def test_a_reply_slower_than_the_timeout_is_replayed_and_applied_once(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(100))
        _inject(target, "slow", count=1, delay=target.read_timeout + 0.5)
        _attempt(target.adapter.prepare, leg)
        assert target.adapter.prepare(leg).state is LegState.PREPARED
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (Decimal(900), Decimal(100))

    @shows_faults
    def test_a_csd_that_is_down_gives_a_transient_error_and_nothing_is_applied(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(100))
        _inject(target, "down", count=None)
        with pytest.raises(CsdUnavailable) as caught:
            target.adapter.prepare(leg)
        assert caught.value.permanent is False
        assert target.adapter.health().ok is False
        target.control.clear_faults()
        assert target.adapter.health().ok is True
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (LOT, 0)

    # ------------------------------------------------------------------------------------ refusals

    def test_lack_of_securities_is_refused_with_LACK_and_changes_nothing(self, target, today):
        debit, credit = funded_account(target, Decimal(50)), empty_account(target)
        with pytest.raises(InsufficientSecurities) as caught:
            target.adapter.prepare(leg_between(target, debit, credit, Decimal(51)))
        assert (caught.value.reason_code, caught.value.permanent) == ("LACK", True)
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (Decimal(50), 0)

    def test_a_leg_refused_for_lack_of_securities_can_be_prepared_once_they_arrive(self, target):
        debit, credit = funded_account(target, Decimal(50)), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(80))
        with pytest.raises(InsufficientSecurities):
            target.adapter.prepare(leg)
        target.control.fund(account=debit, isin=target.isin, quantity=Decimal(30), reference=new_id("F"))
        assert target.adapter.prepare(leg).state is LegState.PREPARED

    def test_an_unknown_account_is_refused_permanently(self, target):
        credit = empty_account(target)
        with pytest.raises(UnknownAccount) as caught:
            target.adapter.prepare(leg_between(target, f"NOSUCH{new_id()}", credit, Decimal(1)))
        assert caught.value.permanent is True
        assert caught.value.reason_code == "SAFE"

    def test_an_unknown_credit_account_is_refused_at_commit(self, target):
        debit = funded_account(target)
        leg = leg_between(target, debit, f"NOSUCH{new_id()}", Decimal(1))
        target.adapter.prepare(leg)
        with pytest.raises(UnknownAccount):
            target.adapter.commit(leg)

    def test_a_blocked_account_is_refused_with_BLOC(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        target.control.block(debit)
        with pytest.raises(BlockedAccount) as caught:
            target.adapter.prepare(leg_between(target, debit, credit, Decimal(1)))
        assert (caught.value.reason_code, caught.value.permanent) == ("BLOC", True)
        assert target.adapter.holdings(account=debit, as_of=today).position(target.isin).blocked == 0

    def test_an_unknown_security_is_refused_permanently(self, target):
        debit, credit = funded_account(target), empty_account(target)
        with pytest.raises(UnknownSecurity) as caught:
            target.adapter.prepare(leg_between(target, debit, credit, Decimal(1), isin=target.unknown_isin))
        assert caught.value.permanent is True

    def test_a_leg_never_prepared_cannot_be_committed(self, target):
        debit, credit = funded_account(target), empty_account(target)
        with pytest.raises(LegNotPrepared):
            target.adapter.commit(leg_between(target, debit, credit, Decimal(1)))

    def test_a_leg_aborted_before_its_prepare_arrived_is_never_reserved(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(10))
        assert target.adapter.abort(leg).state is LegState.ABORTED
        with pytest.raises(LegAborted):
            target.adapter.prepare(leg)
        with pytest.raises(LegAborted):
            target.adapter.commit(leg)
        assert target.adapter.holdings(account=debit, as_of=today).position(target.isin).blocked == 0

    def test_a_leg_id_reused_for_a_different_movement_is_refused(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(10))
        target.adapter.prepare(leg)
        bigger = leg_between(target, debit, credit, Decimal(11), leg_id=leg.leg_id)
        with pytest.raises(LegConflict) as caught:
            target.adapter.prepare(bigger)
        assert (caught.value.reason_code, caught.value.permanent) == ("REFE", True)
        with pytest.raises(LegConflict):
            target.adapter.commit(bigger)
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (Decimal(990), Decimal(10))

    def test_a_committed_leg_cannot_be_aborted(self, target):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(10))
        target.adapter.prepare(leg)
        target.adapter.commit(leg)
        with pytest.raises(LegCommitted) as caught:
            target.adapter.abort(leg)
        assert caught.value.permanent is True

    # --------------------------------------------------------------------------------- concurrency

    def test_concurrent_prepares_on_one_account_never_overdraw_it(self, target, today):
        debit, credit = funded_account(target, Decimal(1000)), empty_account(target)
        legs = [leg_between(target, debit, credit, Decimal(100)) for _ in range(24)]
        start = threading.Barrier(8)

        def prepare(leg: Leg):
            with contextlib.suppress(threading.BrokenBarrierError):
                start.wait(timeout=10)
            return _attempt(target.adapter.prepare, leg)

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(prepare, legs))
        prepared = [r for r in results if not isinstance(r, AdapterError)]
        refused = [r for r in results if isinstance(r, AdapterError)]
        assert len(prepared) == 10
        assert all(isinstance(r, InsufficientSecurities) for r in refused)
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (0, Decimal(1000))

    def test_concurrent_replays_of_one_leg_reserve_it_once(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(100))
        with ThreadPoolExecutor(max_workers=6) as pool:
            outcomes = list(pool.map(lambda _: target.adapter.prepare(leg), range(6)))
        assert {o.csd_reference for o in outcomes} == {outcomes[0].csd_reference}
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (Decimal(900), Decimal(100))

    # -------------------------------------------------------------------------------------- batches

    def test_a_batch_refuses_only_its_own_bad_legs(self, target, today):
        """A batch of prepares with a lack of securities and an unknown account among successes: one
        result per leg, in order, each refusal on its own leg, every other leg applied; then the good legs
        commit in one batch."""
        debit, short, credit = (
            funded_account(target),
            funded_account(target, Decimal(5)),
            empty_account(target),
        )
        good = [leg_between(target, debit, credit, Decimal(q)) for q in (100, 200, 300)]
        lacking = leg_between(target, short, credit, Decimal(6))
        unknown = leg_between(target, f"NOSUCH{new_id()}", credit, Decimal(1))
        legs = [good[0], lacking, good[1], unknown, good[2]]
        results = target.adapter.prepare_many(legs)
        assert [r.leg_id for r in results] == [leg.leg_id for leg in legs]
        assert [r.outcome.state if r.outcome else type(r.error) for r in results] == [
            LegState.PREPARED,
            InsufficientSecurities,
            LegState.PREPARED,
            UnknownAccount,
            LegState.PREPARED,
        ]
        assert results[1].error.reason_code == "LACK" and results[1].error.permanent is True
        assert results[3].error.reason_code == "SAFE" and results[3].error.permanent is True
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (Decimal(400), Decimal(600))
        assert target.adapter.holdings(account=short, as_of=today).position(target.isin).blocked == 0

        committed = target.adapter.commit_many(good)
        assert [(r.leg_id, r.outcome.state) for r in committed] == [
            (leg.leg_id, LegState.COMMITTED) for leg in good
        ]
        assert len({r.outcome.csd_reference for r in committed}) == 3
        assert all(r.outcome.settlement_date == today for r in committed)
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (Decimal(400), 0)
        assert target.adapter.holdings(account=credit, as_of=today).position(target.isin).total == 600

    def test_a_batch_refuses_commits_and_aborts_leg_by_leg(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        prepared, never, done = (leg_between(target, debit, credit, Decimal(10)) for _ in range(3))
        target.adapter.prepare_many([prepared, done])
        target.adapter.commit_many([done])
        commits = target.adapter.commit_many([never, prepared])
        assert isinstance(commits[0].error, LegNotPrepared)
        assert commits[1].outcome.state is LegState.COMMITTED
        aborts = target.adapter.abort_many([done, never])
        assert isinstance(aborts[0].error, LegCommitted)
        assert aborts[1].outcome.state is LegState.ABORTED
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (Decimal(980), 0)

    @pytest.mark.parametrize("operation", ["prepare", "commit", "abort"])
    @shows_faults
    def test_a_batch_whose_reply_was_lost_is_applied_once_when_replayed(self, target, today, operation):
        debit, credit = funded_account(target), empty_account(target)
        legs = [leg_between(target, debit, credit, Decimal(q)) for q in (100, 200, 300)]
        lacking = leg_between(target, debit, credit, Decimal(5000))
        batch = [legs[0], lacking, *legs[1:]]
        if operation != "prepare":
            target.adapter.prepare_many(legs)
        _inject(target, "drop_reply", count=1)
        first = _attempt(getattr(target.adapter, f"{operation}_many"), batch)  # retried, or raised
        results = getattr(target.adapter, f"{operation}_many")(batch)  # the hub's own replay
        again = getattr(target.adapter, f"{operation}_many")(batch)
        if not isinstance(first, AdapterError):
            assert [r.outcome for r in first] == [r.outcome for r in results]
        assert [r.outcome for r in again] == [r.outcome for r in results]
        if operation == "prepare":
            assert isinstance(results[1].error, InsufficientSecurities)
        state = {"prepare": LegState.PREPARED, "commit": LegState.COMMITTED, "abort": LegState.ABORTED}
        assert [r.outcome.state for r in results if r.leg_id != lacking.leg_id] == [state[operation]] * 3
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        expected = {"prepare": (400, 600), "commit": (400, 0), "abort": (1000, 0)}[operation]
        assert (held.available, held.blocked) == tuple(Decimal(q) for q in expected)
        moves = target.adapter.transactions(account=credit, since=today, until=today).movements
        posted = sorted((m.reference, m.quantity) for m in moves)
        assert posted == (
            sorted((leg.reference, leg.quantity) for leg in legs) if operation == "commit" else []
        )

    @shows_faults
    def test_a_batch_whose_reply_came_twice_is_taken_once(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        legs = [leg_between(target, debit, credit, Decimal(q)) for q in (100, 200)]
        _inject(target, "reply_twice", count=1)
        assert [r.outcome.state for r in target.adapter.prepare_many(legs)] == [LegState.PREPARED] * 2
        _inject(target, "reply_twice", count=2)  # both rounds of a two-sided commit
        assert [r.outcome.state for r in target.adapter.commit_many(legs)] == [LegState.COMMITTED] * 2
        assert target.adapter.holdings(account=credit, as_of=today).position(target.isin).total == 300
        assert target.adapter.holdings(account=debit, as_of=today).position(target.isin).total == 700

    @shows_faults
    def test_a_batch_to_a_csd_that_is_down_raises_a_transient_error_and_applies_nothing(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        legs = [leg_between(target, debit, credit, Decimal(q)) for q in (100, 200)]
        _inject(target, "down", count=None)
        with pytest.raises(CsdUnavailable) as caught:
            target.adapter.prepare_many(legs)
        assert caught.value.permanent is False
        target.control.clear_faults()
        held = target.adapter.holdings(account=debit, as_of=today).position(target.isin)
        assert (held.available, held.blocked) == (LOT, 0)
        assert [r.outcome.state for r in target.adapter.prepare_many(legs)] == [LegState.PREPARED] * 2

    def test_a_leg_given_twice_in_one_batch_is_applied_once(self, target, today):
        debit, credit = funded_account(target), empty_account(target)
        leg = leg_between(target, debit, credit, Decimal(100))
        results = target.adapter.prepare_many([leg, leg])
        assert results[0].outcome.csd_reference == results[1].outcome.csd_reference
        results = target.adapter.commit_many([leg, leg])
        assert results[0].outcome.csd_reference == results[1].outcome.csd_reference
        assert target.adapter.holdings(account=credit, as_of=today).position(target.isin).total == 100

    def test_statements_reproduce_exactly_the_postings_applied_in_batches(self, target, today):
        a, b, c = funded_account(target), funded_account(target), empty_account(target)
        legs = [
            leg_between(target, a, c, Decimal(120)),
            leg_between(target, b, c, Decimal("35.5")),
            leg_between(target, a, b, Decimal(7)),
            leg_between(target, b, a, Decimal(20)),
        ]
        aborted = leg_between(target, a, c, Decimal(500))
        pending = leg_between(target, b, a, Decimal(3))
        target.adapter.prepare_many([*legs, aborted, pending])
        target.adapter.commit_many(legs)
        target.adapter.abort_many([aborted])
        for account in (a, b, c):
            moves = target.adapter.transactions(account=account, since=today, until=today).movements
            leg_moves = [
                (m.reference, m.quantity, m.credit) for m in moves if not m.reference.startswith("F")
            ]
            expected = [
                (leg.reference, leg.quantity, leg.credit_account == account)
                for leg in legs
                if account in (leg.debit_account, leg.credit_account)
            ]
            assert sorted(leg_moves) == sorted(expected)
            total = sum((m.quantity if m.credit else -m.quantity for m in moves), Decimal(0))
            assert target.adapter.holdings(account=account, as_of=today).position(target.isin).total == total
        held = target.adapter.holdings(account=b, as_of=today).position(target.isin)
        assert (held.total, held.blocked) == (Decimal("951.5"), Decimal(3))
        assert target.adapter.holdings(account=c, as_of=today).position(target.isin).total == Decimal("155.5")

    # ---------------------------------------------------------------------------------- statements

    def test_statements_reproduce_exactly_the_postings_applied(self, target, today):
        a, b, c = funded_account(target), funded_account(target), empty_account(target)
        legs = [
            leg_between(target, a, c, Decimal(120)),
            leg_between(target, b, c, Decimal("35.5")),
            leg_between(target, a, b, Decimal(7)),
            leg_between(target, c, a, Decimal(20)),
        ]
        aborted = leg_between(target, a, c, Decimal(500))
        for leg in legs:
            target.adapter.prepare(leg)
            target.adapter.commit(leg)
        target.adapter.prepare(aborted)
        target.adapter.abort(aborted)
        pending = leg_between(target, b, a, Decimal(3))
        target.adapter.prepare(pending)

        for account in (a, b, c):
            moves = target.adapter.transactions(account=account, since=today, until=today).movements
            leg_moves = [
                (m.reference, m.quantity, m.credit) for m in moves if not m.reference.startswith("F")
            ]
            expected = [
                (leg.reference, leg.quantity, leg.credit_account == account)
                for leg in legs
                if account in (leg.debit_account, leg.credit_account)
            ]
            assert sorted(leg_moves) == sorted(expected)
            assert all(m.settlement_date == today for m in moves)
            total = sum((m.quantity if m.credit else -m.quantity for m in moves), Decimal(0))
            held = target.adapter.holdings(account=account, as_of=today).position(target.isin)
            assert held.total == total
        assert target.adapter.holdings(account=a, as_of=today).position(target.isin).total == Decimal(893)
        assert target.adapter.holdings(account=b, as_of=today).position(target.isin).blocked == Decimal(3)
        assert target.adapter.holdings(account=c, as_of=today).position(target.isin).total == Decimal("135.5")
        yesterday = today - dt.timedelta(days=1)
        assert target.adapter.transactions(account=a, since=yesterday, until=yesterday).movements == ()

    def test_the_issuance_account_statement_shows_its_short_position(self, target, today):
        """A contra account goes negative by what it issues: its statement of holdings carries the short
        position (semt.002 ``ShrtLngInd`` ``SHOR``, MT535 ``N``) rather than being refused."""
        issuance = target.issuance_account
        before = target.adapter.holdings(account=issuance, as_of=today).position(target.isin)
        funded_account(target, Decimal("250.5"))
        after = target.adapter.holdings(account=issuance, as_of=today).position(target.isin)
        assert after.total < 0
        assert after.total == before.total - Decimal("250.5")
        assert (after.available, after.blocked) == (after.total, 0)

    def test_a_statement_of_an_unknown_account_is_refused(self, target, today):
        with pytest.raises(UnknownAccount):
            target.adapter.holdings(account=f"NOSUCH{new_id()}", as_of=today)

    # -------------------------------------------------------------------------------- endorsements

    def test_an_endorsement_of_a_block_header_naming_the_csd_verifies_with_its_public_key(self, target):
        header = block_header(target)
        endorsement = target.adapter.endorse(header)
        public_key = target.control.public_key()
        assert endorsement.key_id == key_id_for(public_key)
        VerifyKey(public_key).verify(header, endorsement.signature)
        with pytest.raises(BadSignatureError):
            VerifyKey(public_key).verify(header + b" ", endorsement.signature)

    def test_the_same_header_sent_again_is_endorsed_again(self, target):
        header = block_header(target)
        assert target.adapter.endorse(header) == target.adapter.endorse(header)

    @pytest.mark.parametrize(
        "bytes_sent",
        [
            b"I, the CSD, owe the hub 1,000,000 USD",
            b'{"height":7,"previous":"00ff","root":"abcd"}',
            b"[]",
            b"\xff\xfe",
        ],
    )
    def test_bytes_that_are_no_block_header_are_not_endorsed(self, target, bytes_sent):
        with pytest.raises(NotABlockHeader) as refused:
            target.adapter.endorse(bytes_sent)
        assert refused.value.permanent

    def test_a_header_not_in_canonical_form_or_with_a_field_out_of_form_is_not_endorsed(self, target):
        canonical = block_header(target)
        fields = json.loads(canonical)
        for sent in (
            json.dumps(fields, sort_keys=True).encode(),  # blanks
            json.dumps(dict(reversed(fields.items())), separators=(",", ":")).encode(),  # keys unsorted
            headers.canonical({name: value for name, value in fields.items() if name != "version"}),
            headers.canonical(fields | {"note": "and one more thing"}),
            canonical.replace(b'"entry_count":1', b'"entry_count":1.0'),
            canonical.replace(b'"entry_count":1', b'"entry_count":true'),
            canonical.replace(b'"entry_count":1', b'"entry_count":0'),
            canonical.replace(b'.000000Z"', b'Z"'),
        ):
            with pytest.raises(NotABlockHeader):
                target.adapter.endorse(sent)

    def test_a_header_that_does_not_name_the_csd_is_not_endorsed(self, target):
        with pytest.raises(HeaderNotNamingCsd) as refused:
            target.adapter.endorse(block_header(target, csds=["OTHERCSD"]))
        assert refused.value.permanent

    def test_another_header_at_a_height_the_csd_endorsed_is_not_endorsed(self, target):
        height = new_height()
        first = block_header(target, height=height, merkle_root="11" * 32)
        target.adapter.endorse(first)
        with pytest.raises(HeightEndorsedOtherwise) as refused:
            target.adapter.endorse(block_header(target, height=height, merkle_root="22" * 32))
        assert refused.value.permanent
        VerifyKey(target.control.public_key()).verify(first, target.adapter.endorse(first).signature)

    def test_health_reports_a_reachable_csd_as_ok(self, target):
        health = target.adapter.health()
        assert health.ok is True
        assert health.latency_ms >= 0


def _attempt(call, *args):
    try:
        return call(*args)
    except AdapterError as exc:
        return exc


def _inject(target: ConformanceTarget, fault: str, **options) -> None:
    """Make the CSD show ``fault`` (only tests marked ``shows_faults`` do, and a target that cannot show
    faults leaves those tests out: see ``ConformanceSuite.fault_tests``)."""
    target.control.inject(fault, **options)
