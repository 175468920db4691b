import datetime as dt

from celery import shared_task
from django.utils import timezone

from hub.ledger.services import blocks_seal_and_finalise
from hub.settlement import protocol, selectors, services


@shared_task(name="hub.settlement.instruction_match", acks_late=True)
def instruction_match(instruction_id: int) -> int | None:
    transfer = services.instruction_match(instruction_id=instruction_id)
    return transfer.pk if transfer else None


@shared_task(name="hub.settlement.transfer_advance", acks_late=True, ignore_result=True)
def transfer_advance(transfer_id: int) -> None:
    """Run the protocol for one transfer; when it must wait, schedule the next run for that moment."""
    due = protocol.transfer_advance(transfer_id=transfer_id)
    if due is not None:
        transfer_advance.apply_async(args=[transfer_id], eta=max(due, timezone.now()))


@shared_task(name="hub.settlement.transfers_anchor_and_release", acks_late=True, ignore_result=True)
def transfers_anchor_and_release() -> int:
    """Seal and endorse what the ledger holds pending, then release every transfer whose commit decision
    is now final: one task for a whole batch of transfers, instead of each polling the ledger."""
    blocks_seal_and_finalise()
    ready = protocol.transfers_release_committable()
    for transfer_id in ready:
        transfer_advance.delay(transfer_id)
    return len(ready)


@shared_task(name="hub.settlement.transfers_sweep", ignore_result=True)
def transfers_sweep() -> int:
    """Beat: re-drive every transfer whose due time has passed (a lost task, a killed worker, a lease that
    lapsed). Runs that are not due are skipped by the claim, so a duplicate costs one UPDATE."""
    due = selectors.transfers_due(now=timezone.now())
    for transfer_id in due:
        transfer_advance.delay(transfer_id)
    return len(due)


@shared_task(name="hub.settlement.instructions_recycle")
def instructions_recycle() -> dict[str, int]:
    """Beat: cancel instructions unmatched past their deadline; re-drive matching that may have been lost."""
    report = services.instructions_recycle()
    stale = selectors.instructions_rematch_ids(older_than=dt.timedelta(minutes=5))
    for instruction_id in stale:
        instruction_match.delay(instruction_id)
    return report | {"rematched": len(stale)}
