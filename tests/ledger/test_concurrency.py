"""Sealers racing each other on PostgreSQL never make two blocks at one height nor seal an entry twice."""

import threading

import pytest
from django.db import IntegrityError, connection

from hub.ledger import selectors, services
from hub.ledger.models import Block, Entry

from .conftest import drafts, transactional_on_postgresql

pytestmark = [pytest.mark.django_db(transaction=True), transactional_on_postgresql]


def run_in_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)
    outcomes: list = [None] * count

    def runner(slot: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[slot] = work(slot)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            outcomes[slot] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(slot,)) for slot in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def assert_one_chain(transfers: int) -> None:
    heights = list(Block.objects.order_by("height").values_list("height", flat=True))
    assert heights == list(range(1, len(heights) + 1))
    assert Entry.objects.filter(block__isnull=True).count() == 0
    assert Entry.objects.filter(kind="COMMIT").count() == transfers
    assert sum(Block.objects.values_list("entry_count", flat=True)) == Entry.objects.count()
    report = selectors.chain_verify()
    assert report.first_break is None, report.findings


def test_sealers_and_appenders_running_at_once_build_one_chain():
    def work(slot: int):
        if slot % 2:
            for batch in range(10):
                services.entries_append(drafts=drafts(40, start=slot * 1000 + batch * 40))
            return "appended"
        sealed = []
        for _ in range(15):
            sealed += services.blocks_seal_pending(max_entries=25)
        return sealed

    outcomes = run_in_threads(6, work)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    services.blocks_seal_pending(max_entries=25)
    for block in Block.objects.all():
        services.block_endorse(block=block)
    assert_one_chain(1200)  # 3 appenders x 400 entries
    assert Entry.objects.filter(kind="HUB_KEY").count() == 1  # the lock: one first key, whoever sealed first


def test_without_the_lock_a_lost_race_fails_on_the_unique_height_and_never_forks_the_chain(monkeypatch):
    services.entries_append(drafts=drafts(600))
    monkeypatch.setattr(services, "_take_sealer_lock", lambda: None)

    def work(slot: int):
        sealed = 0
        for _ in range(40):
            try:
                sealed += len(services.blocks_seal_pending(max_entries=7))
            except IntegrityError:
                continue
        return sealed

    outcomes = run_in_threads(4, work)
    assert all(isinstance(o, int) for o in outcomes), outcomes
    services.blocks_seal_pending(max_entries=7)
    for block in Block.objects.all():
        services.block_endorse(block=block)
    # without the lock a second announcement of the same first key may slip in; the chain still holds
    assert_one_chain(600)
