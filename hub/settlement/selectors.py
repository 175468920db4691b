"""Reads of settlement: instructions and transfers, always scoped to who asks."""

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from hub.registry.models import Participant
from hub.settlement.models import Instruction
from hub.settlement.statuses import INSTRUCTION_OPEN


def instructions_rematch_ids(*, older_than: dt.timedelta) -> list[int]:
    """Open instructions not touched for a while: their matching task may have been lost."""
    cutoff = timezone.now() - older_than
    return list(
        Instruction.objects.filter(status__in=INSTRUCTION_OPEN, updated_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:5000]
    )


def instructions_of(participant: Participant) -> QuerySet[Instruction]:
    """The only way to list instructions for a participant: its own, never another's."""
    return Instruction.objects.filter(participant=participant).select_related(
        "security", "account", "csd", "counterparty_csd"
    )


def transfers_due(*, now: dt.datetime) -> list[int]:
    """Transfers whose due time passed more than ``SETTLEMENT_SWEEP_GRACE_SECONDS`` ago: their task was
    lost, or their run died. The grace keeps the sweeper from doubling tasks still waiting in a busy queue
    (a doubled task would cost only a failed claim, but thousands of them cost a worker's time)."""
    from django.conf import settings

    from hub.settlement.models import Transfer

    overdue = now - dt.timedelta(seconds=settings.SETTLEMENT_SWEEP_GRACE_SECONDS)
    return list(
        Transfer.objects.filter(due_at__lte=overdue)
        .order_by("due_at")
        .values_list("pk", flat=True)[: settings.SETTLEMENT_SWEEP_BATCH]
    )
