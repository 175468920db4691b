"""Work that finishes transfers goes before work that starts new ones. The ledger's tasks and the runs of
transfers whose commit decision is final have queues of their own, which every worker consumes beside the
default one, and on Redis ahead of it: a backlog of new instructions in the default queue cannot hold back
sealing, endorsing, the release of committable transfers, or their commits."""

import uuid

from django.conf import settings
from kombu import Connection, Consumer, Exchange, Producer, Queue

from hub.celery import app


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_ledger_tasks_and_the_release_of_committable_transfers_go_to_the_ledger_queue():
    assert queue_of("hub.ledger.seal_blocks") == settings.CELERY_LEDGER_QUEUE
    assert queue_of("hub.settlement.transfers_anchor_and_release") == settings.CELERY_LEDGER_QUEUE


def test_settlement_batches_go_to_the_default_queue_unless_sent_to_commit():
    for task in ("hub.settlement.transfers_advance", "hub.settlement.instructions_match"):
        assert queue_of(task) == settings.CELERY_TASK_DEFAULT_QUEUE


def test_a_worker_started_without_queue_options_consumes_all_three_ledger_first():
    consumed = [queue.name for queue in app.amqp.queues.values()]
    assert consumed == [
        settings.CELERY_LEDGER_QUEUE,
        settings.CELERY_COMMIT_QUEUE,
        settings.CELERY_TASK_DEFAULT_QUEUE,
    ]


def test_on_redis_the_ledger_and_commit_queues_are_emptied_before_a_backlog_in_the_default_queue():
    # the worst order: the backlog is published first, the work that would finish it last
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "the production broker: make test runs on Redis"
    run = uuid.uuid4().hex[:6]  # queues of this test's own, in the order the worker consumes the hub's
    names = [f"{queue.name}-{run}" for queue in app.amqp.queues.values()]
    queues = [Queue(name, Exchange(name), routing_key=name) for name in names]
    ledger, commit, default = queues
    taken: list[str] = []
    with Connection(
        settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
    ) as conn:
        producer = Producer(conn)
        published = [
            (default, "new 1"),
            (default, "new 2"),
            (default, "new 3"),
            (commit, "commit 1"),
            (commit, "commit 2"),
            (ledger, "seal"),
        ]
        for queue, label in published:
            producer.publish(label, exchange=queue.exchange, routing_key=queue.routing_key, declare=[queue])

        def take(body, message):
            taken.append(body)
            message.ack()

        try:
            with Consumer(conn, queues=queues, callbacks=[take], prefetch_count=1):
                while len(taken) < len(published):
                    conn.drain_events(timeout=10)
        finally:
            for queue in queues:
                queue(conn.default_channel).delete()
    # taking the queues in turn would give: seal, commit 1, new 1, commit 2, new 2, new 3
    assert taken == ["seal", "commit 1", "commit 2", "new 1", "new 2", "new 3"]
