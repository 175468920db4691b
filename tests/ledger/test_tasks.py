"""Sealing on a schedule stored in the database, and on demand through the queue."""

import time

import pytest
from django_celery_beat.models import PeriodicTask

from hub.ledger import selectors, services, tasks
from hub.ledger.models import Block, Entry

from ..conftest import celery_worker
from .conftest import drafts, transactional_on_postgresql


@pytest.mark.django_db
def test_the_sealing_task_seals_pending_entries_and_gets_them_endorsed():
    services.entries_append(drafts=drafts(30))
    heights = tasks.seal_blocks()
    assert heights == [1]
    block = Block.objects.get(height=1)
    assert set(block.endorsements.values_list("csd", flat=True)) == set(block.csd_codes)
    assert tasks.seal_blocks() == []
    assert selectors.chain_verify().first_break is None


@pytest.mark.django_db
def test_beat_runs_the_sealing_task_every_few_seconds_from_a_schedule_in_the_database(settings):
    task = PeriodicTask.objects.get(task="hub.ledger.seal_blocks")
    assert task.enabled and task.interval.period == "seconds"
    assert task.interval.every == settings.LEDGER_SEAL_INTERVAL_SECONDS


@pytest.mark.slow
@transactional_on_postgresql
@pytest.mark.django_db(transaction=True)
def test_sealing_asked_for_on_demand_is_done_by_a_real_worker_through_the_broker():
    """The session's broker: Redis under make test (the worker inherits the session's own queue)."""
    with celery_worker() as worker:
        services.entries_append(drafts=drafts(12))
        services.ledger_seal_request()  # outside a transaction: enqueued at once
        deadline = time.monotonic() + 60
        while Entry.objects.filter(block__isnull=True).exists() and time.monotonic() < deadline:
            time.sleep(0.3)
        assert not Entry.objects.filter(block__isnull=True).exists(), worker.output()[-3000:]
        assert "hub.ledger.seal_blocks" in worker.output()
    assert selectors.chain_verify().first_break is None


@pytest.mark.django_db
def test_a_broker_that_cannot_take_the_request_does_not_fail_the_callers_commit(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.seal_blocks, "apply_async", broker_down)
    with caplog.at_level("ERROR"), django_capture_on_commit_callbacks(execute=True) as requested:
        services.entries_append(drafts=drafts(2))
        services.ledger_seal_request()
    assert len(requested) == 1
    # the entries are committed, the request is logged, and the scheduled run seals them
    assert Entry.objects.filter(block__isnull=True).count() == 2
    assert "broker unreachable" in caplog.text
    assert tasks.seal_blocks() == [1]


@pytest.mark.django_db
def test_requests_to_seal_within_one_window_become_one_delayed_request(
    monkeypatch, settings, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.seal_blocks, "apply_async", lambda **options: sent.append(options))
    monkeypatch.setattr(services, "_last_seal_request", 0.0)
    settings.LEDGER_SEAL_REQUEST_MILLISECONDS = 60_000  # a window no test outlasts
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            services.entries_append(drafts=drafts(1))
            services.ledger_seal_request()
    # one request, run when the window closes: one block for all three transactions' entries
    assert sent == [{"countdown": 60.0, "expires": 65.0}]
