"""Messages in and out of the hub, kept for the audit trail.

Every inbound message is stored raw, valid or not, with the answer the hub gave. Outbound messages (status
advices, confirmations, cancellation statuses) sit in a per-participant outbox in the participant's own
format; ``sequence`` orders one participant's outbox strictly in commit order, so a pull cursor never
skips a message that committed late.
"""

from django.db import models
from django.db.models import Q

from hub.registry.models import MessageStandard, Participant


class InboundOutcome(models.TextChoices):
    RECEIVED = "RECEIVED", "Received, not yet answered"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    REPLAY = "REPLAY", "Replay of an earlier message: answered with the original answer"


class InboundMessage(models.Model):
    sender = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="inbound_messages")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    format = models.CharField(max_length=2, choices=MessageStandard.choices)
    content_type = models.CharField(max_length=100)
    raw = models.BinaryField()
    message_type = models.CharField(max_length=20, blank=True, help_text="e.g. sese.023.001.11 or MT542")
    business_message_id = models.CharField(max_length=35, blank=True)
    transaction_id = models.CharField(max_length=35, blank=True)
    outcome = models.CharField(max_length=10, choices=InboundOutcome.choices, default=InboundOutcome.RECEIVED)
    reason_codes = models.CharField(max_length=100, blank=True, help_text="ISO reason codes, comma-separated")
    detail = models.TextField(blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.BinaryField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    original = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replays",
        help_text="For a replay: the message first received",
        db_index=False,  # a partial index of the replays alone (``Meta.indexes``)
    )

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["original"], condition=Q(original__isnull=False), name="inbound_replays"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(format__in=MessageStandard.values), name="inbound_format"),
            models.CheckConstraint(condition=Q(outcome__in=InboundOutcome.values), name="inbound_outcome"),
            models.CheckConstraint(
                condition=~Q(outcome=InboundOutcome.REPLAY) | Q(original__isnull=False),
                name="inbound_replay_points_back",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender_id and self.sender} {self.message_type or '?'} {self.outcome}"


class ReplayKey(models.Model):
    """Identifies a message for replay detection: (sender, business message id) and, for accepted
    instructions, (sender, account owner's transaction id). The unique constraint makes a concurrent
    duplicate lose the race instead of creating a second instruction."""

    # looked up by the leading column of ``replay_key_unique_per_sender``: no index of its own
    sender = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+", db_index=False)
    key = models.CharField(max_length=40)
    message = models.ForeignKey(InboundMessage, on_delete=models.PROTECT, related_name="replay_keys")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sender", "key"], name="replay_key_unique_per_sender")]

    def __str__(self) -> str:
        return f"{self.sender_id and self.sender} {self.key}"


class OutboxCounter(models.Model):
    """The last outbox sequence number of a participant; its row lock orders the participant's outbox."""

    participant = models.OneToOneField(Participant, on_delete=models.CASCADE, primary_key=True)
    last_sequence = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.participant_id and self.participant} at {self.last_sequence}"


class OutboundMessage(models.Model):
    # no index of its own: the participant is the first column of outbound_sequence_unique
    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="outbox", db_index=False
    )
    sequence = models.BigIntegerField(help_text="Position in the participant's outbox: the pull cursor")
    created_at = models.DateTimeField(auto_now_add=True)
    format = models.CharField(max_length=2, choices=MessageStandard.choices)
    message_type = models.CharField(max_length=20, help_text="e.g. sese.024.001.12 or MT548")
    content_type = models.CharField(max_length=100)
    payload = models.BinaryField()
    transaction_id = models.CharField(max_length=35, blank=True, help_text="The participant's reference")
    status = models.CharField(max_length=40, blank=True, help_text="What the message says, e.g. MATCHED")

    class Meta:
        ordering = ["participant", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "sequence"], name="outbound_sequence_unique"),
            models.CheckConstraint(condition=Q(sequence__gt=0), name="outbound_sequence_positive"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.participant_id and self.participant} #{self.sequence} {self.message_type} {self.status}"
        )


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        DELIVERED = "DELIVERED"
        GAVE_UP = "GAVE_UP"

    message = models.OneToOneField(OutboundMessage, on_delete=models.PROTECT, related_name="delivery")
    url = models.URLField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"webhook of message {self.message_id}: {self.status} after {self.attempts} attempts"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_unique")]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.http_status or self.error}"
