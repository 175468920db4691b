"""The demo world with one reference ledger per CSD in this process (each its own SQLite database, on a clock
fixed to the settlement day), one transfer settled by the real protocol, and a closing run of the day
before, so every test starts from a reconciled state and a baseline for art. 59."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction

from csd_adapters import base as csd_base
from csd_adapters.inprocess import LedgerAdapter
from csd_adapters.reference_csd.ledger import Ledger
from csd_adapters.reference_csd.schema import SCALE
from hub.ledger.services import blocks_seal_and_finalise
from hub.messaging.services import inbound_record
from hub.reconciliation.models import Break, Run
from hub.reconciliation.services import run_execute, run_request
from hub.registry.demo import demo_isin
from hub.registry.models import CSD, Participant
from hub.registry.reference_csds import reference_csd_seed_document
from hub.settlement.models import Transfer
from hub.settlement.protocol import transfer_advance
from hub.settlement.services import instruction_match, instruction_submit
from tests.hub.settlement.messages import NSD_A, STRATE_A, pair

SETTLEMENT_DAY = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)  # Thursday, noon in Moscow
EVENING_BEFORE = dt.datetime(2026, 11, 25, 16, 0, tzinfo=dt.UTC)  # every CSD past its cut-off
LATER_THAT_DAY = SETTLEMENT_DAY + dt.timedelta(hours=2)
SHARES = demo_isin("RU", "01")  # issued at NSD; Strate, KACD and MCDR hold it through NSD
ISSUED = Decimal(1_600_000)  # 4 NSD participant accounts + 3 investor CSDs x 4 accounts, 100,000 each


class World:
    def __init__(self, directory) -> None:
        self.ledgers: dict[str, Ledger] = {}
        self.adapters: dict[str, LedgerAdapter] = {}
        self.clock = SETTLEMENT_DAY  # the CSDs' clock: what day they book postings on
        for csd in CSD.objects.all():
            ledger = Ledger(
                f"sqlite:///{directory / (csd.code.lower() + '.sqlite3')}",
                timezone=csd.timezone,
                clock=lambda: self.clock,
            )
            ledger.seed(reference_csd_seed_document(csd=csd))
            self.ledgers[csd.code] = ledger
            self.adapters[csd.code] = LedgerAdapter(ledger=ledger, csd=csd.code)

    def adapter_for(self, csd: CSD) -> LedgerAdapter:
        return self.adapters[csd.code]

    def sql(self, csd: str, statement: str, **params) -> int:
        """Raw SQL in the CSD's own database, around its ledger code, as a careless or hostile hand would."""
        import sqlalchemy as sa

        with self.ledgers[csd].engine.begin() as connection:
            return connection.execute(sa.text(statement), params).rowcount

    def reconcile(self, *, now=LATER_THAT_DAY, kind=Run.Kind.ON_DEMAND, csd: str | None = None) -> Run:
        row = CSD.objects.get(code=csd) if csd else None
        run = run_request(csd=row, kind=kind, requested_by="test", enqueue=False)
        return run_execute(run_id=run.pk, adapter_for=self.adapter_for, now=now)

    def instruct(self, deliverer, receiver, *, tx: str, amount: str = "100") -> Transfer:
        """Both sides' instructions, matched into a transfer."""
        for body in pair(deliverer, receiver, tx=tx, amount=amount):
            participant = Participant.objects.get(bic=body.account_owner_bic)
            source = inbound_record(sender=participant, raw=b"-", fmt="MX", content_type="application/xml")
            with transaction.atomic():
                instruction = instruction_submit(participant=participant, body=body, source_message=source)
        return instruction_match(instruction_id=instruction.pk)

    def advance(self, transfer: Transfer, *, now=SETTLEMENT_DAY) -> Transfer:
        """The protocol's steps, run at ``now`` until the transfer settles (or gets no further)."""
        for _ in range(8):
            Transfer.objects.filter(pk=transfer.pk, due_at__isnull=False).update(due_at=now)
            transfer_advance(transfer_id=transfer.pk, adapter_for=self.adapter_for, now=now)
            transfer.refresh_from_db()
            if transfer.status == "SETTLED":
                break
            blocks_seal_and_finalise()
        blocks_seal_and_finalise()
        return transfer

    def settle(self, deliverer, receiver, *, tx: str, amount: str = "100", now=SETTLEMENT_DAY) -> Transfer:
        transfer = self.advance(self.instruct(deliverer, receiver, tx=tx, amount=amount), now=now)
        assert transfer.status == "SETTLED"
        return transfer

    def close(self) -> None:
        for ledger in self.ledgers.values():
            ledger.close()


class CannotCommit(LedgerAdapter):
    """A CSD that reserves but cannot be reached to commit, until told otherwise."""

    down = True

    def commit_many(self, legs):
        if self.down:
            raise csd_base.CsdUnavailable("timeout")
        return super().commit_many(legs)


def units(quantity) -> int:
    """A quantity as the reference ledger stores it (millionths)."""
    return int(Decimal(quantity) * SCALE)


def undue_creation(world, quantity=500):
    """``quantity`` of the shares booked out of NSD's issuance account onto a participant, under no transfer."""
    world.sql(
        "NSD",
        "INSERT INTO refcsd_postings (reference, kind, isin, debit_account, credit_account, quantity,"
        " from_blocked, settlement_date, booked_at) VALUES ('UNDUE-1', 'ISSUE', :isin, 'ISSUANCE',"
        " 'DEMBRUMM-OWN', :q, false, '2026-11-26', '2026-11-26')",
        isin=SHARES,
        q=units(quantity),
    )


def breaks(run: Run) -> set[tuple]:
    """The live breaks a run saw: (kind, CSD, ISIN, account, reference, expected, actual, difference)."""
    rows = Break.objects.filter(last_seen_run=run, status__in=("OPEN", "ACK")).select_related("csd")
    return {
        (
            b.kind,
            b.csd.code if b.csd else None,
            b.isin,
            b.account,
            b.reference,
            b.expected,
            b.actual,
            b.difference,
        )
        for b in rows
    }


@pytest.fixture
def world(db, tmp_path):
    call_command("seed_demo", verbosity=0)
    world = World(tmp_path)
    world.transfer = world.settle(NSD_A, STRATE_A, tx="RECON")
    closing = world.reconcile(now=EVENING_BEFORE, kind=Run.Kind.END_OF_DAY)
    assert closing.status == "DONE" and closing.breaks_seen == 0, closing.notes
    yield world
    world.close()
