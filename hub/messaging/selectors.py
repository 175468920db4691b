from hub.messaging.models import OutboundMessage, WebhookDelivery
from hub.registry.models import Participant


def outbox_after(*, participant: Participant, after: int, limit: int) -> list[OutboundMessage]:
    """The participant's outbound messages after cursor ``after``, oldest first."""
    return list(
        OutboundMessage.objects.filter(participant=participant, sequence__gt=after).order_by("sequence")[
            :limit
        ]
    )


def webhook_deliveries_due(*, now, limit: int = 500) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
