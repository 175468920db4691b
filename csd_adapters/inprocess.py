"""An adapter straight onto a reference ``Ledger`` in this process: no messages, no network.

The baseline of the benchmarks, and a way for a CSD without any core system to run the reference ledger
inside the hub's own process. Its batches run in one ledger transaction, each leg under its own savepoint.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

from csd_adapters.base import (
    CsdAdapter,
    Endorsement,
    Health,
    Holdings,
    Leg,
    LegOutcome,
    LegResult,
    Transactions,
)
from csd_adapters.reference_csd.ledger import Ledger


class LedgerAdapter(CsdAdapter):
    """``csd``: the code of the CSD whose ledger this is (the code block headers name it by)."""

    def __init__(self, *, ledger: Ledger, csd: str) -> None:
        self.ledger = ledger
        self.csd = csd

    def prepare(self, leg: Leg) -> LegOutcome:
        outcome = self.ledger.reserve(
            reference=leg.reference,
            account=leg.debit_account,
            isin=leg.isin,
            quantity=leg.quantity,
            linked_reference=leg.transfer_reference[:35],
        )
        return _for(leg, outcome)

    def commit(self, leg: Leg) -> LegOutcome:
        return _for(
            leg,
            self.ledger.deliver(
                reference=leg.reference,
                account=leg.debit_account,
                credit_account=leg.credit_account,
                isin=leg.isin,
                quantity=leg.quantity,
            ),
        )

    def abort(self, leg: Leg) -> LegOutcome:
        return _for(
            leg,
            self.ledger.release(
                reference=leg.reference, account=leg.debit_account, isin=leg.isin, quantity=leg.quantity
            ),
        )

    def prepare_many(self, legs: Sequence[Leg]) -> list[LegResult]:
        return self.ledger.in_batch(lambda: self._one_by_one(self.prepare, legs))

    def commit_many(self, legs: Sequence[Leg]) -> list[LegResult]:
        return self.ledger.in_batch(lambda: self._one_by_one(self.commit, legs))

    def abort_many(self, legs: Sequence[Leg]) -> list[LegResult]:
        return self.ledger.in_batch(lambda: self._one_by_one(self.abort, legs))

    def holdings(self, *, account: str, as_of: dt.date) -> Holdings:
        return Holdings(account=account, as_of=as_of, positions=self.ledger.positions(account, as_of))

    def transactions(self, *, account: str, since: dt.date, until: dt.date) -> Transactions:
        return Transactions(
            account=account, since=since, until=until, movements=self.ledger.movements(account, since, until)
        )

    def endorse(self, header: bytes) -> Endorsement:
        return Endorsement(signature=self.ledger.endorse(header, csd=self.csd), key_id=self.ledger.key_id)

    def health(self) -> Health:
        started = time.monotonic()
        self.ledger.today()
        return Health(ok=True, detail="ok", latency_ms=(time.monotonic() - started) * 1000)


def _for(leg: Leg, outcome: LegOutcome) -> LegOutcome:
    return LegOutcome(
        leg_id=leg.leg_id,
        state=outcome.state,
        csd_reference=outcome.csd_reference,
        settlement_date=outcome.settlement_date,
        replayed=outcome.replayed,
    )
