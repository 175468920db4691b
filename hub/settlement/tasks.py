import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from hub.ledger.services import blocks_seal_and_finalise
from hub.settlement import protocol, selectors, services


@shared_task(name="hub.settlement.instruction_match", acks_late=True)
def instruction_match(instruction_id: int) -> int | None:
    transfer = services.instruction_match(instruction_id=instruction_id)
    return transfer.pk if transfer else None


@shared_task(name="hub.settlement.instructions_match", acks_late=True, ignore_result=True)
def instructions_match(instruction_ids: list[int]) -> None:
    """Match a batch of instructions (those one intake transaction accepted) in one go."""
    services.instructions_match(instruction_ids=instruction_ids)


@shared_task(name="hub.settlement.transfers_advance", acks_late=True, ignore_result=True)
def transfers_advance(transfer_ids: list[int]) -> None:
    """Run the protocol for a batch of transfers, and for other due transfers up to a full batch; schedule
    each one's next run for when it is due (those due at the same second together)."""
    due = protocol.transfers_advance(transfer_ids=transfer_ids, fill_to=settings.SETTLEMENT_BATCH_SIZE)
    transfers_schedule(due)


def transfers_schedule(due: dict[int, dt.datetime | None]) -> None:
    now = timezone.now()
    by_second: dict[dt.datetime, list[int]] = {}
    for transfer_id, at in due.items():
        if at is not None:
            at = max(at, now).replace(microsecond=0) + dt.timedelta(seconds=1 if at > now else 0)
            by_second.setdefault(at, []).append(transfer_id)
    for at, ids in sorted(by_second.items()):
        for chunk in batches(ids):
            if at <= now:
                transfers_advance.delay(chunk)
            else:
                transfers_advance.apply_async(args=[chunk], eta=at)


def batches(ids: list[int]) -> list[list[int]]:
    size = settings.SETTLEMENT_BATCH_SIZE
    return [ids[start : start + size] for start in range(0, len(ids), size)]


@shared_task(name="hub.settlement.transfer_advance", acks_late=True, ignore_result=True)
def transfer_advance(transfer_id: int) -> None:
    """One transfer (tasks queued before batches existed): the batch task with a batch of one."""
    transfers_advance(transfer_ids=[transfer_id])


@shared_task(name="hub.settlement.transfers_anchor_and_release", acks_late=True, ignore_result=True)
def transfers_anchor_and_release() -> int:
    """Seal and endorse what the ledger holds pending, then release every transfer whose commit decision
    is now final: one task for a whole batch of transfers, instead of each polling the ledger."""
    blocks_seal_and_finalise(awaited=selectors.commit_entries_long_awaited(now=timezone.now()))
    ready = protocol.transfers_release_committable()
    for chunk in batches(ready):
        # ahead of the default queue: these runs free the reservations their transfers hold at the CSDs
        transfers_advance.apply_async(args=[chunk], queue=settings.CELERY_COMMIT_QUEUE)
    return len(ready)


@shared_task(name="hub.settlement.transfers_sweep", ignore_result=True)
def transfers_sweep() -> int:
    """Beat: re-drive every transfer whose due time has passed (a lost task, a killed worker, a lease that
    lapsed). Runs that are not due are skipped by the claim, so a duplicate costs one UPDATE."""
    due = selectors.transfers_due(now=timezone.now())
    for chunk in batches(due):
        transfers_advance.delay(chunk)
    return len(due)


@shared_task(name="hub.settlement.instructions_match_sweep", ignore_result=True)
def instructions_match_sweep() -> int:
    """Beat: matching again for instructions still ACCEPTED past the grace (their task was lost with the
    broker). Returns how many it re-drove."""
    return len(services.instructions_match_redrive(now=timezone.now()))


@shared_task(name="hub.settlement.instructions_recycle")
def instructions_recycle() -> dict[str, int]:
    """Beat: cancel instructions unmatched past their deadline; re-drive matching that may have been lost."""
    report = services.instructions_recycle()
    stale = selectors.instructions_rematch_ids(older_than=dt.timedelta(minutes=5))
    for chunk in batches(stale):
        instructions_match.delay(chunk)
    return report | {"rematched": len(stale)}
