"""Writes of the messaging app: inbound messages for the audit trail, the outbox, webhook deliveries."""

import datetime as dt
import hashlib
import hmac
import random
import time

import requests
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from hub.messaging.models import (
    InboundMessage,
    OutboundMessage,
    WebhookAttempt,
    WebhookDelivery,
)
from hub.messaging.rendering import Rendered, render
from hub.registry.models import Participant
from iso20022.models import Message


def inbound_record(*, sender: Participant, raw: bytes, fmt: str, content_type: str) -> InboundMessage:
    """Store a message as received, before anything is read from it: the audit trail keeps it whatever
    happens next. Committed at once, outside any caller's transaction."""
    with transaction.atomic(durable=True):
        return InboundMessage.objects.create(
            sender=sender, raw=raw, format=fmt, content_type=content_type[:100]
        )


def inbound_answer(
    *,
    message: InboundMessage,
    outcome: str,
    http_status: int,
    response: bytes,
    response_content_type: str,
    message_type: str = "",
    business_message_id: str = "",
    transaction_id: str = "",
    reason_codes: tuple[str, ...] = (),
    detail: str = "",
    original: InboundMessage | None = None,
) -> None:
    """Record what the hub answered; called inside the transaction that did the work, so the answer and
    its effects commit together."""
    InboundMessage.objects.filter(pk=message.pk).update(
        outcome=outcome,
        http_status=http_status,
        response=response,
        response_content_type=response_content_type,
        message_type=message_type[:20],
        business_message_id=business_message_id[:35],
        transaction_id=transaction_id[:35],
        reason_codes=",".join(reason_codes)[:100],
        detail=detail,
        original=original,
    )


_NEXT_SEQUENCE = (
    "INSERT INTO messaging_outboxcounter (participant_id, last_sequence) VALUES (%s, 1) "
    "ON CONFLICT (participant_id) DO UPDATE SET last_sequence = messaging_outboxcounter.last_sequence + 1 "
    "RETURNING last_sequence"
)


def outbound_enqueue(
    *,
    participant: Participant,
    body: Message,
    transaction_id: str,
    status: str,
    related_id: str | None = None,
) -> OutboundMessage:
    """Put a message in the participant's outbox in its format; must run inside the transaction that
    made the change the message reports (the transactional outbox)."""
    rendered = render(
        body, receiver_bic=participant.bic, fmt=participant.outbound_format, related_id=related_id
    )
    return outbound_enqueue_rendered(
        participant=participant, rendered=rendered, transaction_id=transaction_id, status=status
    )


def outbound_enqueue_rendered(
    *, participant: Participant, rendered: Rendered, transaction_id: str, status: str
) -> OutboundMessage:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbound_enqueue must run inside the transaction of the change it reports")
    # The counter row's lock orders this participant's outbox in commit order: a pull cursor never
    # passes a sequence number whose message has not committed yet. One upsert takes the lock and the
    # next number (PostgreSQL and SQLite 3.35+ both speak INSERT ... ON CONFLICT ... RETURNING).
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_SEQUENCE, [participant.pk])
        (sequence,) = cursor.fetchone()
    message = OutboundMessage.objects.create(
        participant=participant,
        sequence=sequence,
        format=participant.outbound_format,
        message_type=rendered.message_type,
        content_type=rendered.content_type,
        payload=rendered.payload,
        transaction_id=transaction_id[:35],
        status=status[:40],
    )
    if participant.webhook_url:
        delivery = WebhookDelivery.objects.create(
            message=message, url=participant.webhook_url, next_attempt_at=timezone.now()
        )
        transaction.on_commit(lambda: _enqueue_delivery(delivery.pk))
    return message


def _enqueue_delivery(delivery_id: int) -> None:
    from hub.messaging.tasks import webhook_deliver

    webhook_deliver.delay(delivery_id)


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over ``timestamp + "." + body``, hex; sent as ``X-Hub-Signature: sha256=<hex>``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_backoff(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: exponential from the base, capped, with full jitter."""
    ceiling = min(
        settings.WEBHOOK_BACKOFF_CAP_SECONDS, settings.WEBHOOK_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)
    )
    return random.uniform(ceiling / 2, ceiling)


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery:
    """One attempt to deliver a webhook. The HTTP call runs outside any transaction; the attempt and its
    outcome are recorded afterwards. Returns the delivery as it stands after the attempt."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("message__participant")
            .get(pk=delivery_id)
        )
        if delivery.status != WebhookDelivery.Status.PENDING:
            return delivery
        number = delivery.attempts + 1
        # claim the attempt, so a second worker holding a duplicate task does not send it in parallel
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=number,
            next_attempt_at=timezone.now() + dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 4),
        )
    message = delivery.message
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": message.content_type,
        "X-Hub-Timestamp": timestamp,
        "X-Hub-Sequence": str(message.sequence),
        "X-Hub-Message-Type": message.message_type,
        "X-Hub-Signature": "sha256="
        + webhook_signature(
            secret=message.participant.webhook_secret, timestamp=timestamp, body=bytes(message.payload)
        ),
    }
    started = timezone.now()
    clock = time.perf_counter()
    http_status, error = None, ""
    try:
        response = requests.post(
            delivery.url,
            data=bytes(message.payload),
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        )
        http_status = response.status_code
        if not 200 <= response.status_code < 300:
            error = f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
    duration_ms = int((time.perf_counter() - clock) * 1000)
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=started,
            duration_ms=duration_ms,
            http_status=http_status,
            error=error,
        )
        if not error:
            values = {
                "status": WebhookDelivery.Status.DELIVERED,
                "delivered_at": timezone.now(),
                "next_attempt_at": None,
            }
        elif number >= settings.WEBHOOK_MAX_ATTEMPTS:
            values = {"status": WebhookDelivery.Status.GAVE_UP, "next_attempt_at": None}
        else:
            values = {"next_attempt_at": timezone.now() + dt.timedelta(seconds=webhook_backoff(number))}
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**values)
    delivery.refresh_from_db()
    return delivery
