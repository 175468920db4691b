"""Builders for ledger tests: transfers' entries appended and sealed through the services."""

import base64
import uuid

import pytest
from django.db import connection

from csd_adapters.inprocess import LedgerAdapter
from csd_adapters.reference_csd.ledger import Ledger
from hub.ledger import services
from hub.ledger.services import EntryDraft
from hub.registry.services import csd_key_change

from ..hub.registry.factories import two_linked_csds

# Transactional tests (real processes, racing threads) need the tables emptied between tests: on SQLite
# Django does that with DELETE, which the ledger's append-only triggers refuse. ``make test`` runs them
# on PostgreSQL, where the tables are emptied with TRUNCATE.
transactional_on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite empties tables with DELETE, which the ledger refuses"
)

PAIRS = [("NSD", "STRATE"), ("STRATE", "CSCS"), ("NSD", "KACD"), ("MCDR", "CDSC", "NSD")]


def transfer_record(n: int) -> dict:
    return {
        "transfer": f"T-{n:06d}",
        "isin": "RU0009029540",
        "quantity": f"{n}.5",
        "legs": [{"csd": "NSD", "from": "ACC-1", "to": "OMNI-STRATE"}, {"csd": "STRATE", "to": "ACC-9"}],
    }


def drafts(count: int, *, start: int = 0, kind: str = "COMMIT") -> list[EntryDraft]:
    return [
        EntryDraft(kind, f"T-{n:06d}", PAIRS[n % len(PAIRS)], transfer_record(n))
        for n in range(start, start + count)
    ]


def append_and_seal(count: int, *, block_size: int, start: int = 0) -> list:
    services.entries_append(drafts=drafts(count, start=start))
    blocks = services.blocks_seal_pending(max_entries=block_size)
    for block in blocks:
        services.block_endorse(block=block)
    return blocks


@pytest.fixture
def reference() -> str:
    return f"T-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def reference_csds(tmp_path):
    """NSD and STRATE in the registry, each with a reference ledger whose key the registry knows."""
    nsd, strate, _link = two_linked_csds()
    adapters = {}
    for row in (nsd, strate):
        ledger = Ledger(f"sqlite:///{tmp_path / row.code}.sqlite3")
        csd_key_change(csd=row, public_key=base64.b64encode(ledger.public_key).decode(), cause="test")
        adapters[row.code] = LedgerAdapter(ledger=ledger, csd=row.code)
    return adapters


def seal_one(reference: str):
    services.entry_append(kind="COMMIT", reference=reference, csds=["NSD", "STRATE"], record={"q": "10"})
    [block] = services.blocks_seal_pending()
    return block
