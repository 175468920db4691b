"""Writes of the messaging app: inbound messages for the audit trail, the outbox, webhook deliveries."""

import datetime as dt
import hashlib
import hmac
import http.client
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

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
from hub.messaging.webhook_http import post_within
from hub.registry.models import WEBHOOK_SECRET_MIN_LENGTH, Participant
from hub.rows import model_new, rows_append, rows_insert
from iso20022.models import Message


def inbound_record(*, sender: Participant, raw: bytes, fmt: str, content_type: str) -> InboundMessage:
    """Store a message as received, before anything is read from it: the audit trail keeps it whatever
    happens next. Committed at once, outside any caller's transaction."""
    (message,) = inbound_record_many(sender=sender, messages=[(raw, fmt, content_type)])
    return message


def inbound_record_many(
    *, sender: Participant, messages: Sequence[tuple[bytes, str, str]]
) -> list[InboundMessage]:
    """``inbound_record`` for many messages, each as (raw, format, content type), in one INSERT and one
    commit; returned in the order given."""
    with transaction.atomic(durable=True):
        return rows_insert(
            [
                model_new(InboundMessage, sender=sender, raw=raw, format=fmt, content_type=content_type[:100])
                for raw, fmt, content_type in messages
            ]
        )


@dataclass(frozen=True)
class InboundAnswer:
    """What the hub answered to an inbound message, for the audit trail."""

    message: InboundMessage
    outcome: str
    http_status: int
    response: bytes
    response_content_type: str
    message_type: str = ""
    business_message_id: str = ""
    transaction_id: str = ""
    reason_codes: tuple[str, ...] = ()
    detail: str = ""
    original: InboundMessage | None = None


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
    inbound_answer_many(
        answers=[
            InboundAnswer(
                message=message,
                outcome=outcome,
                http_status=http_status,
                response=response,
                response_content_type=response_content_type,
                message_type=message_type,
                business_message_id=business_message_id,
                transaction_id=transaction_id,
                reason_codes=reason_codes,
                detail=detail,
                original=original,
            )
        ]
    )


_ANSWER_FIELDS = [
    "outcome",
    "http_status",
    "response",
    "response_content_type",
    "message_type",
    "business_message_id",
    "transaction_id",
    "reason_codes",
    "detail",
    "original",
]


def inbound_answer_many(*, answers: Sequence[InboundAnswer]) -> None:
    """``inbound_answer`` for many messages, in one UPDATE ... FROM (VALUES ...) (PostgreSQL, and SQLite
    3.33+; both name the columns of a VALUES list column1, column2 ...)."""
    if not answers:
        return
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    fields = [InboundMessage._meta.get_field(name) for name in _ANSWER_FIELDS]
    params: list = []
    for answer in answers:
        row = answer.message
        row.outcome = answer.outcome
        row.http_status = answer.http_status
        row.response = answer.response
        row.response_content_type = answer.response_content_type
        row.message_type = answer.message_type[:20]
        row.business_message_id = answer.business_message_id[:35]
        row.transaction_id = answer.transaction_id[:35]
        row.reason_codes = ",".join(answer.reason_codes)[:100]
        # PostgreSQL's text holds no NUL: a message quoting a hostile value would fail to be answered
        row.detail = answer.detail.replace("\x00", "\\x00")
        row.original = answer.original
        params.append(row.pk)
        params += [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
    table = quote(InboundMessage._meta.db_table)
    values = ", ".join(["(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"] * len(answers))
    # a column of NULLs has no type of its own in PostgreSQL: the reference is cast to the column's
    assignments = ", ".join(
        f"{quote(field.column)} = "
        + (f"CAST(v.column{n} AS {field.db_type(connection)})" if field.is_relation else f"v.column{n}")
        for n, field in enumerate(fields, start=2)
    )
    with connection.cursor() as cursor:
        # identifiers come from the model's metadata; every value is a bound parameter
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v "  # noqa: S608
            f"WHERE {table}.{quote('id')} = v.column1",
            params,
        )


# Takes the next ``n`` numbers of one participant's outbox and returns the last of them.
_NEXT_SEQUENCES = (
    "INSERT INTO messaging_outboxcounter (participant_id, last_sequence) VALUES (%s, %s) "
    "ON CONFLICT (participant_id) DO UPDATE "
    "SET last_sequence = messaging_outboxcounter.last_sequence + EXCLUDED.last_sequence "
    "RETURNING last_sequence"
)


def outbox_lock(*, participant: Participant) -> None:
    """Take the participant's outbox counter lock now, for the rest of the transaction, as its next
    outbox write would. Instructions take it before their ids (``instructions_submit``): a sender's
    instructions then commit in id order, so ``GET instructions/?after=<id>`` never passes one that has
    not committed yet (the outbox's sequences are ordered the same way)."""
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_SEQUENCES, [participant.pk, 0])


@dataclass(frozen=True)
class Outgoing:
    """A message for a participant's outbox, before it is rendered in the participant's format, or with
    its rendering in that format already made (``rendered``: the same bytes as a synchronous answer)."""

    participant: Participant
    body: Message
    transaction_id: str
    status: str
    related_id: str | None = None
    rendered: Rendered | None = None


def outbound_enqueue(
    *,
    participant: Participant,
    body: Message,
    transaction_id: str,
    status: str,
    related_id: str | None = None,
) -> int:
    """Put a message in the participant's outbox in its format; must run inside the transaction that
    made the change the message reports (the transactional outbox). Returns the message's id."""
    (message_id,) = outbound_enqueue_many(
        messages=[Outgoing(participant, body, transaction_id, status, related_id)]
    )
    return message_id


def outbound_enqueue_many(*, messages: Sequence[Outgoing]) -> list[int]:
    """``outbound_enqueue`` for many messages at once, their ids returned in the order given: each
    participant's numbers are taken in one statement, and the rows are inserted together."""
    return outbound_enqueue_rendered_many(
        messages=[
            (
                item.participant,
                item.rendered
                or render(
                    item.body,
                    receiver_bic=item.participant.bic,
                    fmt=item.participant.outbound_format,
                    related_id=item.related_id,
                ),
                item.transaction_id,
                item.status,
            )
            for item in messages
        ]
    )


def outbound_enqueue_rendered_many(
    *, messages: Sequence[tuple[Participant, Rendered, str, str]]
) -> list[int]:
    """Queue rendered messages, each as (participant, rendered, transaction id, status), in order; their
    ids in the same order."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbound_enqueue must run inside the transaction of the change it reports")
    # The counter row's lock orders this participant's outbox in commit order: a pull cursor never
    # passes a sequence number whose message has not committed yet. One upsert per participant takes the
    # lock and its next numbers (PostgreSQL and SQLite 3.35+ both speak INSERT ... ON CONFLICT ...
    # RETURNING); participants are taken in id order, so two batches never wait on each other in a cycle.
    by_participant: dict[int, list[int]] = {}
    for index, (participant, *_rest) in enumerate(messages):
        by_participant.setdefault(participant.pk, []).append(index)
    sequences: dict[int, int] = {}
    with connection.cursor() as cursor:
        for participant_id in sorted(by_participant):
            indexes = by_participant[participant_id]
            cursor.execute(_NEXT_SEQUENCES, [participant_id, len(indexes)])
            (last,) = cursor.fetchone()
            for offset, index in enumerate(indexes):
                sequences[index] = last - len(indexes) + 1 + offset
    ids = rows_append(
        OutboundMessage,
        [
            {
                "participant_id": participant.pk,
                "sequence": sequences[index],
                "format": participant.outbound_format,
                "message_type": rendered.message_type,
                "content_type": rendered.content_type,
                "payload": rendered.payload,
                "transaction_id": transaction_id[:35],
                "status": status[:40],
            }
            for index, (participant, rendered, transaction_id, status) in enumerate(messages)
        ],
    )
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(message_id=message_id, url=participant.webhook_url, next_attempt_at=now)
        for message_id, (participant, *_rest) in zip(ids, messages, strict=True)
        if participant.webhook_url
    )
    for delivery in deliveries:
        # robust: what committed stays committed whatever the broker says (an intake answer included);
        # a delivery whose task is lost is due, and ``webhooks_sweep`` sends it
        transaction.on_commit(lambda delivery_id=delivery.pk: _enqueue_delivery(delivery_id), robust=True)
    return ids


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


# answers that will not change however often the same message is sent again: give up at once
WEBHOOK_PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 413, 415, 422})


@dataclass(frozen=True)
class WebhookOutcome:
    """A delivery as it stands after ``webhook_deliver``, and whether that call made an attempt."""

    delivery: WebhookDelivery
    attempted: bool


def webhook_claim_window() -> dt.timedelta:
    """How long a claimed attempt keeps its delivery from being claimed again: longer than an attempt can
    last (its deadline is ``WEBHOOK_TIMEOUT_SECONDS``), so a duplicate task never sends in parallel."""
    return dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 4)


def webhook_deliver(*, delivery_id: int) -> WebhookOutcome:
    """One attempt to deliver a webhook, if one is due: the delivery is PENDING and its next attempt's
    time has come. A duplicate task (the sweeper and the retry's own task both fire when it is due) finds
    it claimed or backed off and does nothing. The HTTP call runs outside any transaction, within
    ``WEBHOOK_TIMEOUT_SECONDS`` in all; the attempt and its outcome are recorded afterwards.

    Each attempt goes to the participant's webhook as it is then, with its secret then: a webhook moved
    since the first attempt gets the retries (the delivery records the URL last tried), and a webhook
    removed meanwhile ends the delivery (the participant pulls its outbox instead)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("message__participant")
            .get(pk=delivery_id)
        )
        now = timezone.now()
        if delivery.status != WebhookDelivery.Status.PENDING or (
            delivery.next_attempt_at is not None and delivery.next_attempt_at > now
        ):
            return WebhookOutcome(delivery, attempted=False)
        number = delivery.attempts + 1
        url = delivery.message.participant.webhook_url
        delivery.url = url or delivery.url
        # claim the attempt, so a second worker holding a duplicate task does not send it in parallel
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=number, next_attempt_at=now + webhook_claim_window(), url=delivery.url
        )
    message = delivery.message
    secret = message.participant.webhook_secret
    started = timezone.now()
    clock = time.perf_counter()
    http_status, error, permanent = None, "", False
    if not url:
        error, permanent = "the participant has no webhook any more", True
    elif len(secret) < WEBHOOK_SECRET_MIN_LENGTH:
        # a signature anyone could forge is worse than none: the participant pulls its outbox instead
        error, permanent = f"no webhook secret of at least {WEBHOOK_SECRET_MIN_LENGTH} characters", True
    else:
        timestamp = str(int(time.time()))
        body = bytes(message.payload)
        headers = {
            "Content-Type": message.content_type,
            "X-Hub-Timestamp": timestamp,
            "X-Hub-Sequence": str(message.sequence),
            "X-Hub-Message-Type": message.message_type,
            "X-Hub-Signature": "sha256=" + webhook_signature(secret=secret, timestamp=timestamp, body=body),
        }
        try:
            http_status = post_within(
                url,
                body=body,
                headers=headers,
                deadline=settings.WEBHOOK_TIMEOUT_SECONDS,
                proxy=settings.WEBHOOK_PROXY_URL,
                no_proxy=settings.WEBHOOK_NO_PROXY,
            )
            if not 200 <= http_status < 300:
                # 3xx too: a redirect is not followed, the message is delivered to its URL or not at all
                error, permanent = f"HTTP {http_status}", http_status in WEBHOOK_PERMANENT_STATUSES
        except (OSError, http.client.HTTPException, ValueError) as exc:
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
        elif permanent or number >= settings.WEBHOOK_MAX_ATTEMPTS:
            values = {"status": WebhookDelivery.Status.GAVE_UP, "next_attempt_at": None}
        else:
            values = {"next_attempt_at": timezone.now() + dt.timedelta(seconds=webhook_backoff(number))}
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**values)
    delivery.refresh_from_db()
    return WebhookOutcome(delivery, attempted=True)
