"""The ledger's work has a queue of its own, which every worker consumes beside the default one: a backlog
of settlement batches in the default queue cannot hold back sealing, endorsing and the release of
committable transfers (which is what lets those batches finish)."""

from django.conf import settings

from hub.celery import app


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_ledger_tasks_and_the_release_of_committable_transfers_go_to_the_ledger_queue():
    assert queue_of("hub.ledger.seal_blocks") == settings.CELERY_LEDGER_QUEUE
    assert queue_of("hub.settlement.transfers_anchor_and_release") == settings.CELERY_LEDGER_QUEUE


def test_settlement_batches_stay_in_the_default_queue():
    for task in ("hub.settlement.transfers_advance", "hub.settlement.instructions_match"):
        assert queue_of(task) == settings.CELERY_TASK_DEFAULT_QUEUE


def test_a_worker_started_without_queue_options_consumes_both():
    consumed = {queue.name for queue in app.amqp.queues.values()}
    assert consumed == {settings.CELERY_TASK_DEFAULT_QUEUE, settings.CELERY_LEDGER_QUEUE}
