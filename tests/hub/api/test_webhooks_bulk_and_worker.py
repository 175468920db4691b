"""Webhooks signed and retried with every attempt recorded; bulk intake; and the pair matched by a real
Celery worker on the suite's Redis and PostgreSQL."""

import base64
import datetime as dt
import hashlib
import hmac
import http.server
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.messaging.models import InboundMessage, OutboundMessage, WebhookDelivery
from hub.messaging.services import webhook_deliver
from hub.registry.models import Participant
from hub.settlement.bulk import BULK_NAMESPACE
from hub.settlement.models import Instruction, Transfer

from ...conftest import celery_worker
from ..settlement.messages import as_mt, as_mx, instruction
from .conftest import client_for, post

SECRET = "s3cret-of-the-participant"


class Receiver(http.server.BaseHTTPRequestHandler):
    """A participant's webhook endpoint: answers with the next status of its script (a redirect names
    ``/elsewhere``; ``TRICKLE`` sends the status line a byte at a time, every 0.3 s)."""

    TRICKLE = 0
    script: list[int] = []
    received: list[tuple[str, str, dict, bytes]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        Receiver.received.append((self.command, self.path, dict(self.headers), body))
        status = Receiver.script.pop(0) if Receiver.script and self.command == "POST" else 200
        if status == Receiver.TRICKLE:
            for byte in b"HTTP/1.1 200 OK\r\n\r\n":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.3)
            return
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET = _answer  # noqa: N815 - the handler API names them so

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook_endpoint(nsd_broker):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.script, Receiver.received = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    Participant.objects.filter(bic="DEMARUMM").update(webhook_url=url, webhook_secret=SECRET)
    yield url
    server.shutdown()


def _due_now(delivery: WebhookDelivery) -> None:
    """The backoff has passed: the delivery's next attempt is due."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_webhook_is_signed_retried_with_backoff_and_every_attempt_is_recorded(nsd_broker, webhook_endpoint):
    Receiver.script = [500]
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-1")))
    delivery = WebhookDelivery.objects.get()
    first = webhook_deliver(delivery_id=delivery.pk)
    assert first.attempted and first.delivery.status == "PENDING" and first.delivery.attempts == 1
    assert first.delivery.next_attempt_at > timezone.now()  # backed off, not hammered
    _due_now(delivery)
    second = webhook_deliver(delivery_id=delivery.pk).delivery
    assert second.status == "DELIVERED"
    attempts = list(second.attempt_log.values_list("number", "http_status"))
    assert attempts == [(1, 500), (2, 200)]
    again = webhook_deliver(delivery_id=delivery.pk)
    assert not again.attempted and again.delivery.attempts == 2  # delivered: never sent again
    _method, _path, headers, body = Receiver.received[-1]
    message = OutboundMessage.objects.get(pk=delivery.message_id)
    assert body == bytes(message.payload) and headers["X-Hub-Sequence"] == str(message.sequence)
    expected = hmac.new(
        SECRET.encode(), headers["X-Hub-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Hub-Signature"] == f"sha256={expected}"


def test_a_duplicate_task_sends_nothing_before_the_backoff_has_passed_and_starts_no_second_chain(
    nsd_broker, webhook_endpoint, monkeypatch
):
    from hub.messaging import tasks

    scheduled = []
    monkeypatch.setattr(tasks.webhook_deliver, "apply_async", lambda **kw: scheduled.append(kw))
    Receiver.script = [503]
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-DUP")))
    delivery = WebhookDelivery.objects.get()
    assert tasks.webhook_deliver(delivery.pk) == "PENDING"
    assert tasks.webhook_deliver(delivery.pk) == "PENDING"  # the sweeper's copy, before the retry is due
    assert len(Receiver.received) == 1 and len(scheduled) == 1  # one POST, one chain of retries
    assert WebhookDelivery.objects.get().attempts == 1


def test_a_delivery_in_flight_is_not_sent_again_by_a_duplicate_task(nsd_broker, webhook_endpoint):
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-FLIGHT")))
    delivery = WebhookDelivery.objects.get()
    # the first task has claimed the attempt and is waiting for the endpoint
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=1, next_attempt_at=timezone.now() + dt.timedelta(seconds=20)
    )
    outcome = webhook_deliver(delivery_id=delivery.pk)
    assert not outcome.attempted and Receiver.received == []


def test_a_redirect_is_not_followed_and_the_message_stays_undelivered(nsd_broker, webhook_endpoint):
    Receiver.script = [302]
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-302")))
    delivery = webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk).delivery
    assert delivery.status == "PENDING" and delivery.attempt_log.get().error == "HTTP 302"
    assert [(method, path) for method, path, *_ in Receiver.received] == [("POST", "/hook")]


def test_an_endpoint_that_answers_a_byte_at_a_time_is_cut_off_at_the_deadline(
    nsd_broker, webhook_endpoint, settings
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    Receiver.script = [Receiver.TRICKLE]
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-SLOW")))
    started = time.monotonic()
    delivery = webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk).delivery
    assert time.monotonic() - started < 3  # the status line alone would take 5 s
    attempt = delivery.attempt_log.get()
    assert delivery.status == "PENDING" and "DeadlineExceeded" in attempt.error


def test_an_answer_that_will_not_change_gives_up_at_once(nsd_broker, webhook_endpoint):
    Receiver.script = [410]
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-410")))
    delivery = webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk).delivery
    assert delivery.status == "GAVE_UP" and delivery.next_attempt_at is None
    assert list(delivery.attempt_log.values_list("http_status", flat=True)) == [410]


def test_a_webhook_gives_up_after_the_last_attempt(nsd_broker, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    Participant.objects.filter(bic="DEMARUMM").update(
        webhook_url="http://127.0.0.1:9/nothing-listens", webhook_secret=SECRET
    )
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-2")))
    delivery = WebhookDelivery.objects.get()
    webhook_deliver(delivery_id=delivery.pk)
    _due_now(delivery)
    final = webhook_deliver(delivery_id=delivery.pk).delivery
    assert final.status == "GAVE_UP" and final.attempt_log.count() == 2
    assert "ConnectionRefusedError" in final.attempt_log.first().error


def test_a_retry_goes_to_the_webhook_the_participant_has_now_signed_with_its_secret_now(
    nsd_broker, webhook_endpoint
):
    Receiver.script = [503]
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-MOVED")))
    delivery = WebhookDelivery.objects.get()
    webhook_deliver(delivery_id=delivery.pk)
    assert [path for _method, path, _headers, _body in Receiver.received] == ["/hook"]
    moved, secret = webhook_endpoint.replace("/hook", "/moved"), "a-brand-new-secret-123"
    Participant.objects.filter(bic="DEMARUMM").update(webhook_url=moved, webhook_secret=secret)
    _due_now(delivery)
    retried = webhook_deliver(delivery_id=delivery.pk).delivery
    assert retried.status == "DELIVERED" and retried.url == moved
    _method, path, headers, body = Receiver.received[-1]
    assert path == "/moved" and len(Receiver.received) == 2
    expected = hmac.new(secret.encode(), headers["X-Hub-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-Hub-Signature"] == f"sha256={expected.hexdigest()}"


def test_a_retry_after_the_webhook_was_removed_gives_up_without_sending(nsd_broker, webhook_endpoint):
    Receiver.script = [503]
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-GONE")))
    delivery = WebhookDelivery.objects.get()
    webhook_deliver(delivery_id=delivery.pk)
    Participant.objects.filter(bic="DEMARUMM").update(webhook_url="")  # the secret stays: it is unused
    _due_now(delivery)
    outcome = webhook_deliver(delivery_id=delivery.pk)
    assert outcome.attempted and outcome.delivery.status == "GAVE_UP"
    assert outcome.delivery.attempt_log.last().error == "the participant has no webhook any more"
    assert len(Receiver.received) == 1  # the first attempt's, nothing since


def test_a_webhook_without_a_long_enough_secret_is_refused_and_never_signed_with_it(nsd_broker):
    participant = Participant.objects.get(bic="DEMARUMM")
    participant.webhook_url, participant.webhook_secret = "https://example.org/hook", "short"
    with pytest.raises(ValidationError, match="at least 16 characters"):
        participant.full_clean()
    # a row written past validation (before the rule existed, say): its messages are not delivered
    Participant.objects.filter(pk=participant.pk).update(webhook_url="https://example.org/hook")
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-NOKEY")))
    delivery = webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk).delivery
    assert delivery.status == "GAVE_UP" and "no webhook secret" in delivery.attempt_log.get().error


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


def test_a_webhook_url_with_credentials_and_a_non_ascii_path_is_posted_as_a_browser_would(
    nsd_broker, webhook_endpoint
):
    url = webhook_endpoint.replace("http://", "http://hub%40user:pa%3Ass@").replace("/hook", "/hooks/café")
    Participant.objects.filter(bic="DEMARUMM").update(webhook_url=url)
    post(nsd_broker, as_mx(instruction("DELI", tx="HOOK-AUTH")))
    delivery = webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk).delivery
    assert delivery.status == "DELIVERED"
    method, path, headers, _body = Receiver.received[-1]
    assert (method, path) == ("POST", "/hooks/caf%C3%A9")
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"hub@user:pa:ss").decode()
