"""Celery tasks of the ledger: thin interfaces onto ``services``."""

from celery import shared_task

from hub.ledger import services
from hub.ledger.errors import AnchorUnavailable, EndorserUnavailable


@shared_task(
    name="hub.ledger.seal_blocks",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(EndorserUnavailable, AnchorUnavailable),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def seal_blocks() -> list[int]:
    """Seals pending entries and finalises blocks (endorsements, anchor); scheduled by beat and on demand.
    Safe to run twice at once: sealers take turns and finalising skips what is done."""
    return services.blocks_seal_and_finalise()
