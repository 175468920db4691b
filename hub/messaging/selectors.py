from hub.messaging.models import OutboundMessage, OutboxCounter, WebhookDelivery
from hub.registry.models import Participant


def outbox_after(*, participant: Participant, after: int, limit: int) -> list[OutboundMessage]:
    """The participant's outbound messages after cursor ``after``, oldest first."""
    return list(
        OutboundMessage.objects.filter(participant=participant, sequence__gt=after).order_by("sequence")[
            :limit
        ]
    )


def outbox_last_sequence(*, participant: Participant) -> int:
    """The last sequence issued to the participant so far (committed), 0 before its first message."""
    last = OutboxCounter.objects.filter(participant=participant).values_list("last_sequence", flat=True)
    return last.first() or 0


def webhook_deliveries_due(*, now, limit: int = 500) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
