"""The conformance kit run against the in-process adapter, straight onto a reference ledger: every test
but those that need the CSD to show a fault (a ledger in this process has no network to fail)."""

from decimal import Decimal

import pytest

from csd_adapters.conformance import ConformanceSuite, ConformanceTarget
from csd_adapters.inprocess import LedgerAdapter
from csd_adapters.reference_csd.ledger import Ledger

from .conftest import KNOWN_ISIN, UNKNOWN_ISIN, own_database


class LedgerControl:
    """``CsdControl`` for a ledger in this process."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def open_account(self, number: str, kind: str = "OWN") -> None:
        self.ledger.open_account(number, kind)

    def fund(self, *, account: str, isin: str, quantity: Decimal, reference: str) -> None:
        self.ledger.issue(reference=reference, account=account, isin=isin, quantity=quantity)

    def block(self, account: str) -> None:
        self.ledger.block_account(account)

    def inject(self, fault: str, *, count: int | None = 1, delay: float = 2.0) -> None:
        # never reached: the tests that need faults are left out of this run (see the end of this file)
        raise AssertionError(f"a ledger in this process cannot show the fault {fault}")

    def clear_faults(self) -> None:
        """Nothing to clear: a ledger in this process never shows faults."""

    def public_key(self) -> bytes:
        return self.ledger.public_key


@pytest.fixture(scope="module")
def conformance_target(tmp_path_factory):
    with own_database(tmp_path_factory.mktemp("ledger"), "inprocess") as database:
        ledger = Ledger(database)
        ledger.add_security(KNOWN_ISIN)
        ledger.open_account("ISSUANCE", "ISSUANCE")
        yield ConformanceTarget(
            name="INPROCESS",
            adapter=LedgerAdapter(ledger=ledger, csd="INPROCESS"),
            control=LedgerControl(ledger),
            isin=KNOWN_ISIN,
            unknown_isin=UNKNOWN_ISIN,
            read_timeout=1.0,
        )
        assert ledger.discrepancies() == []
        ledger.close()


class TestInProcessAdapterConforms(ConformanceSuite):
    """Every test of the kit against the in-process adapter, but those that need faults."""


for _name in ConformanceSuite.fault_tests():
    setattr(TestInProcessAdapterConforms, _name, None)  # a ledger in this process has no network to fail
