from celery import shared_task
from django.utils import timezone

from hub.messaging import selectors, services
from hub.messaging.models import WebhookDelivery


@shared_task(name="hub.messaging.webhook_deliver", acks_late=True)
def webhook_deliver(delivery_id: int) -> str:
    """One delivery attempt; a failed attempt schedules the next one itself, with backoff. A duplicate task
    that found nothing due schedules nothing: one chain of retries per delivery."""
    outcome = services.webhook_deliver(delivery_id=delivery_id)
    delivery = outcome.delivery
    if outcome.attempted and delivery.status == WebhookDelivery.Status.PENDING and delivery.next_attempt_at:
        webhook_deliver.apply_async(args=[delivery_id], eta=delivery.next_attempt_at)
    return delivery.status


@shared_task(name="hub.messaging.webhooks_sweep")
def webhooks_sweep() -> int:
    """Re-drive deliveries whose next attempt is overdue (a lost task, a worker that died)."""
    due = selectors.webhook_deliveries_due(now=timezone.now())
    for delivery_id in due:
        webhook_deliver.delay(delivery_id)
    return len(due)
