import datetime as dt

from celery import shared_task

from hub.settlement import selectors, services


@shared_task(name="hub.settlement.instruction_match", acks_late=True)
def instruction_match(instruction_id: int) -> int | None:
    transfer = services.instruction_match(instruction_id=instruction_id)
    return transfer.pk if transfer else None


@shared_task(name="hub.settlement.instructions_recycle")
def instructions_recycle() -> dict[str, int]:
    """Beat: cancel instructions unmatched past their deadline; re-drive matching that may have been lost."""
    report = services.instructions_recycle()
    stale = selectors.instructions_rematch_ids(older_than=dt.timedelta(minutes=5))
    for instruction_id in stale:
        instruction_match.delay(instruction_id)
    return report | {"rematched": len(stale)}
