"""Webhooks signed and retried with every attempt recorded; bulk intake; and the pair matched by a real
Celery worker on the suite's Redis and PostgreSQL."""

import hashlib
import hmac
import http.server
import threading
import time

import pytest
from django.utils import timezone

from hub.messaging.models import InboundMessage, OutboundMessage, WebhookDelivery
from hub.messaging.services import webhook_deliver
from hub.registry.models import Participant
from hub.settlement.bulk import BULK_NAMESPACE
from hub.settlement.models import Instruction, Transfer

from ...conftest import celery_worker
from ..settlement.messages import as_mt, as_mx, instruction
from .conftest import client_for, post


class Receiver(http.server.BaseHTTPRequestHandler):
    """A participant's webhook endpoint: answers with the next status of its script."""

    script: list[int] = []
    received: list[tuple[dict, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the handler API names it so
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(Receiver.script.pop(0) if Receiver.script else 200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook_endpoint():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.script, Receiver.received = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_a_webhook_is_signed_retried_with_backoff_and_every_attempt_is_recorded(nsd_broker, webhook_endpoint):
    Participant.objects.filter(bic="DEMARUMM").update(webhook_url=webhook_endpoint, webhook_secret="s3cret")
    Receiver.script = [500]
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-1")))
    delivery = WebhookDelivery.objects.get()
    first = webhook_deliver(delivery_id=delivery.pk)
    assert first.status == "PENDING" and first.attempts == 1
    assert first.next_attempt_at > timezone.now()  # backed off, not hammered
    second = webhook_deliver(delivery_id=delivery.pk)
    assert second.status == "DELIVERED"
    attempts = list(second.attempt_log.values_list("number", "http_status"))
    assert attempts == [(1, 500), (2, 200)]
    assert webhook_deliver(delivery_id=delivery.pk).attempts == 2  # delivered: never sent again
    headers, body = Receiver.received[-1]
    message = OutboundMessage.objects.get(pk=delivery.message_id)
    assert body == bytes(message.payload) and headers["X-Hub-Sequence"] == str(message.sequence)
    expected = hmac.new(
        b"s3cret", headers["X-Hub-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Hub-Signature"] == f"sha256={expected}"


def test_a_webhook_gives_up_after_the_last_attempt(nsd_broker, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    Participant.objects.filter(bic="DEMARUMM").update(webhook_url="http://127.0.0.1:9/nothing-listens")
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-2")))
    delivery = WebhookDelivery.objects.get()
    webhook_deliver(delivery_id=delivery.pk)
    final = webhook_deliver(delivery_id=delivery.pk)
    assert final.status == "GAVE_UP" and final.attempt_log.count() == 2
    assert "ConnectionError" in final.attempt_log.first().error


def test_a_bulk_mx_file_is_processed_message_by_message(nsd_broker):
    parts = [
        as_mx(instruction("DELI", tx=f"BULK-{i}", **extra)).split(b"?>", 1)[1]
        for i, extra in enumerate(
            [{}, {"security": instruction().security.__class__(isin="US0378331005")}, {}]
        )
    ]
    bulk = f'<BlkMsgs xmlns="{BULK_NAMESPACE}">'.encode() + b"".join(parts) + b"</BlkMsgs>"
    response = post(nsd_broker, bulk, path="/api/v1/messages/bulk/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["http_status"], r["reason_codes"]) for r in results] == [(202, []), (422, ["DSEC"]), (202, [])]
    assert set(Instruction.objects.values_list("transaction_id", flat=True)) == {"BULK-0", "BULK-2"}
    assert "sese.024" in results[1]["answer"]


def test_a_bulk_mt_file_is_split_into_fin_messages(strate_broker):
    bulk = as_mt(instruction("RECE", tx="MTB-1")) + b"\r\n$" + as_mt(instruction("RECE", tx="MTB-2"))
    response = post(strate_broker, bulk, mt=True, path="/api/v1/messages/bulk/")
    assert [r["outcome"] for r in response.json()["results"]] == ["ACCEPTED", "ACCEPTED"]


def test_a_bulk_file_that_cannot_be_split_is_refused_and_kept(nsd_broker):
    response = post(nsd_broker, b"<NotBulk/>", path="/api/v1/messages/bulk/")
    assert response.status_code == 400 and "BlkMsgs" in response.json()["detail"]
    assert InboundMessage.objects.get().outcome == "REJECTED"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_matches_both_sides_posted_through_the_api(demo):
    nsd, strate = client_for("DEMARUMM"), client_for("DEMAZAJJ")
    with celery_worker():
        assert post(nsd, as_mx(instruction("DELI", tx="W-D"))).status_code == 202
        assert post(strate, as_mt(instruction("RECE", tx="W-R")), mt=True).status_code == 202
        deadline = time.monotonic() + 60
        while not Transfer.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    transfer = Transfer.objects.get()
    assert {transfer.deliver.transaction_id, transfer.receive.transaction_id} == {"W-D", "W-R"}
    for client in (nsd, strate):
        statuses = [m["status"] for m in client.get("/api/v1/messages/outbox/").json()["messages"]]
        assert statuses[0] == "ACCEPTED" and statuses[-1] == "MATCHED"
