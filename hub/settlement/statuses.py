"""Statuses of instructions and transfers and the moves allowed between them (ARCHITECTURE.md §4).

The tables live in code, never in configuration; ``services.instruction_status_set`` and
``transfer_status_set`` are the only writers of a status and check every move against them.
"""

from django.db import models


class InstructionStatus(models.TextChoices):
    ACCEPTED = "ACCEPTED", "Accepted (validated, not yet through matching)"
    UNMATCHED = "UNMATCHED"
    MATCHED = "MATCHED"
    CANCELLED = "CANCELLED"
    SETTLED = "SETTLED"
    FAILED = "FAILED"


class TransferStatus(models.TextChoices):
    MATCHED = "MATCHED"
    PREPARING = "PREPARING"
    PREPARED = "PREPARED"
    COMMITTING = "COMMITTING"
    SETTLED = "SETTLED"
    ABORTING = "ABORTING"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


I = InstructionStatus  # noqa: E741 - short alias for the tables below
T = TransferStatus

INSTRUCTION_MOVES: dict[str, frozenset[str]] = {
    I.ACCEPTED: frozenset({I.UNMATCHED, I.MATCHED, I.CANCELLED}),
    I.UNMATCHED: frozenset({I.MATCHED, I.CANCELLED}),
    # a matched instruction is cancelled only when both sides ask, before settlement starts
    I.MATCHED: frozenset({I.CANCELLED, I.SETTLED, I.FAILED}),
    I.CANCELLED: frozenset(),
    I.SETTLED: frozenset(),
    I.FAILED: frozenset(),
}

# PREPARED means every leg is reserved and the commit decision is anchored on the shared ledger: the
# point of no return. From there the only way is forward; abort is possible only while PREPARING.
TRANSFER_MOVES: dict[str, frozenset[str]] = {
    T.MATCHED: frozenset({T.PREPARING, T.CANCELLED}),
    T.PREPARING: frozenset({T.PREPARED, T.ABORTING}),
    T.PREPARED: frozenset({T.COMMITTING}),
    T.COMMITTING: frozenset({T.SETTLED}),
    T.ABORTING: frozenset({T.FAILED}),
    T.SETTLED: frozenset(),
    T.FAILED: frozenset(),
    T.CANCELLED: frozenset(),
}

INSTRUCTION_OPEN = (I.ACCEPTED, I.UNMATCHED)
TERMINAL_TRANSFER = (T.SETTLED, T.FAILED, T.CANCELLED)
