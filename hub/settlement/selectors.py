"""Reads of settlement: instructions and transfers, always scoped to who asks; and, for the services, the
registry rows a batch of them points at."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, F, Model, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from hub.messaging.models import InboundMessage
from hub.registry.models import CSD, Participant, SecuritiesAccount, Security
from hub.settlement.models import Instruction, Leg, LegStatus, StatusEvent, Transfer
from hub.settlement.statuses import INSTRUCTION_OPEN, TERMINAL_TRANSFER, InstructionStatus, TransferStatus
from iso20022 import models as m
from iso20022 import mx
from iso20022.errors import Iso20022Error
from iso20022.mt import parse_mt


def instructions_rematch_ids(*, older_than: dt.timedelta) -> list[int]:
    """Open instructions not touched for a while: their matching task may have been lost."""
    cutoff = timezone.now() - older_than
    return list(
        Instruction.objects.filter(status__in=INSTRUCTION_OPEN, updated_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:5000]
    )


def instructions_accepted_overdue(*, now: dt.datetime) -> QuerySet[Instruction]:
    """Instructions still ACCEPTED ``SETTLEMENT_MATCH_SWEEP_GRACE_SECONDS`` after their last write, nearest
    matching deadline first: read through the open instructions' index (``instruction_recycling``, led by
    the status), which gives the accepted ones in that order without reading the unmatched ones."""
    from django.conf import settings

    overdue = now - dt.timedelta(seconds=settings.SETTLEMENT_MATCH_SWEEP_GRACE_SECONDS)
    return Instruction.objects.filter(status=InstructionStatus.ACCEPTED, updated_at__lte=overdue).order_by(
        "match_deadline"
    )


def instructions_of(participant: Participant) -> QuerySet[Instruction]:
    """The only way to list instructions for a participant: its own, never another's."""
    return Instruction.objects.filter(participant=participant).select_related(
        "security", "account", "csd", "counterparty_csd"
    )


def cancellation_requests(message_ids: Iterable[int]) -> dict[int, tuple[m.CancellationRequest, str | None]]:
    """The cancellation requests received as these inbound messages (each instruction records the one it
    last accepted pending the counterparty's), by message id, as each was read, with its business message
    id (MX ``BizMsgIdr``; None in MT). One read by primary key for them all; a message that no longer
    reads as a cancellation is left out."""
    found: dict[int, tuple[m.CancellationRequest, str | None]] = {}
    received = InboundMessage.objects.filter(pk__in=set(message_ids))
    for pk, fmt, raw, business_message_id in received.values_list(
        "pk", "format", "raw", "business_message_id"
    ):
        try:
            body = parse_mt(bytes(raw)) if fmt == "MT" else mx.parse(bytes(raw)).body
        except Iso20022Error:
            continue
        if isinstance(body, m.CancellationRequest):
            found[pk] = (body, business_message_id or None)
    return found


def transfers_due(*, now: dt.datetime) -> list[int]:
    """Transfers whose due time passed more than ``SETTLEMENT_SWEEP_GRACE_SECONDS`` ago: their task was
    lost, or their run died. The grace keeps the sweeper from doubling tasks still waiting in a busy queue
    (a doubled task would cost only a failed claim, but thousands of them cost a worker's time)."""
    from django.conf import settings

    from hub.settlement.models import Transfer
    from hub.settlement.statuses import TERMINAL_TRANSFER

    overdue = now - dt.timedelta(seconds=settings.SETTLEMENT_SWEEP_GRACE_SECONDS)
    return list(
        # a finished transfer is due no more (its final write clears the due time; this is the safety net)
        Transfer.objects.filter(due_at__lte=overdue)
        .exclude(status__in=TERMINAL_TRANSFER)
        .order_by("due_at")
        .values_list("pk", flat=True)[: settings.SETTLEMENT_SWEEP_BATCH]
    )


def commit_entries_long_awaited(*, now: dt.datetime) -> QuerySet:
    """The COMMIT entries of transfers PREPARED for over five minutes: a CSD slow to endorse their block
    (down for hours, say) holds them, and the ledger asks for those blocks however old they grow."""
    from hub.settlement.models import Transfer
    from hub.settlement.statuses import TransferStatus

    return Transfer.objects.filter(
        status=TransferStatus.PREPARED, updated_at__lt=now - dt.timedelta(minutes=5)
    ).values("commit_entry_id")


class RegistryRows:
    """The registry rows a batch of instructions, transfers or legs points at (CSDs, securities, accounts,
    participants), each read once and shared by every row that points at it, rather than joined to each
    of them: a join makes a model object per row for every registry row it carries.

    Rows are attached as ``select_related`` would leave them, in each relation's cache: the ids are
    already right, so there is nothing for the relation's setter to check or copy. A security's issuer CSD
    and an account's CSD are attached too."""

    def __init__(self) -> None:
        self.rows: dict[type[Model], dict[int, Model]] = {model: {} for model in _REGISTRY_MODELS}

    def attach(self, rows: Iterable[Model], *relations: str) -> None:
        """Read what ``rows`` (of one model) point at through ``relations`` (foreign keys to registry
        models, by name), and attach it."""
        rows = list(rows)
        if not rows:
            return
        fields = [type(rows[0])._meta.get_field(name) for name in relations]
        wanted: dict[type[Model], set[int]] = {model: set() for model in _REGISTRY_MODELS}
        for f in fields:
            wanted[f.related_model] |= {getattr(row, f.attname) for row in rows}
        self._read(wanted)
        self._attach(rows, fields)

    def _read(self, wanted: dict[type[Model], set[int]]) -> None:
        for model in (Security, SecuritiesAccount, Participant):
            self._fill(model, wanted[model])
        # the securities' issuers and the accounts' CSDs are read with the CSDs asked for
        self._fill(
            CSD,
            wanted[CSD]
            | {s.issuer_csd_id for s in self.rows[Security].values()}
            | {a.csd_id for a in self.rows[SecuritiesAccount].values()},
        )
        self._attach(self.rows[Security].values(), [_ISSUER_CSD])
        self._attach(self.rows[SecuritiesAccount].values(), [_ACCOUNT_CSD])

    def _fill(self, model: type[Model], ids: set[int]) -> None:
        known = self.rows[model]
        missing = ids - known.keys()
        if missing:
            known.update(model.objects.in_bulk(missing))

    def _attach(self, rows: Iterable[Model], fields: list) -> None:
        for f in fields:
            known = self.rows[f.related_model]
            for row in rows:
                f.set_cached_value(row, known[getattr(row, f.attname)])


_REGISTRY_MODELS = (Security, SecuritiesAccount, Participant, CSD)
_ISSUER_CSD = Security._meta.get_field("issuer_csd")
_ACCOUNT_CSD = SecuritiesAccount._meta.get_field("csd")
# what an instruction's notices, legs and ledger records read
INSTRUCTION_REGISTRY = ("participant", "account", "security", "csd", "counterparty_csd")


# --- transfers that wait on an operator ------------------------------------------------------------------

# past the point of no return, or releasing what they reserved: each should be over within seconds, and no
# market condition (a date, securities to come) holds them
_MUST_FINISH = (TransferStatus.PREPARED, TransferStatus.COMMITTING, TransferStatus.ABORTING)
# the steps that call the CSDs, where a CSD can give no usable answer for a leg (``OTHR`` on the leg)
_CALLING = (TransferStatus.PREPARING, TransferStatus.COMMITTING, TransferStatus.ABORTING)
STUCK_COUNTED_UP_TO = 10_000
# where each status takes its legs: a leg elsewhere is one the transfer still waits for
_LEGS_DONE = {
    TransferStatus.PREPARING: LegStatus.PREPARED,
    TransferStatus.PREPARED: LegStatus.PREPARED,
    TransferStatus.COMMITTING: LegStatus.COMMITTED,
    TransferStatus.ABORTING: LegStatus.ABORTED,
}


@dataclass(frozen=True, slots=True)
class StuckLeg:
    csd: str
    leg_id: str
    status: str
    reason_code: str  # the CSD's last refusal (REFE ...), OTHR for no usable answer, blank for none


@dataclass(frozen=True, slots=True)
class StuckTransfer:
    """A transfer that waits on an operator: ``since`` it entered its status (None if its timeline has no
    such event), and its legs not yet where the status takes them."""

    transfer_id: int
    status: str
    since: dt.datetime | None
    legs: tuple[StuckLeg, ...]

    def described(self) -> str:
        """One line for operations: the transfer, its status and since when, and what holds it."""
        since = self.since.isoformat(timespec="seconds") if self.since else "an unrecorded time"
        return f"transfer {self.transfer_id} {self.status} since {since}: {self.explanation()}"

    def explanation(self) -> str:
        """What holds it, in words for operations."""
        unknown = [leg for leg in self.legs if leg.reason_code == "OTHR"]
        if unknown:
            return "; ".join(
                f"{leg.csd} gives no usable answer for leg {leg.leg_id} (OTHR: the request turned away whole, "
                f"or the leg's outcome left unknown): see the log, and the leg at {leg.csd}"
                for leg in unknown
            )
        refused = [leg for leg in self.legs if leg.reason_code]
        if refused and self.status == TransferStatus.COMMITTING:
            said = "; ".join(
                f"{leg.csd} refuses to post leg {leg.leg_id} ({leg.reason_code})" for leg in refused
            )
            return f"{said}: its commit decision is anchored, so it can only go forward"
        if refused and self.status == TransferStatus.ABORTING:
            return "; ".join(
                f"{leg.csd} refuses to release leg {leg.leg_id} ({leg.reason_code})" for leg in refused
            )
        if self.status == TransferStatus.PREPARED:
            return "its commit decision waits for its block's endorsements (see the ledger's alarms)"
        silent = sorted({leg.csd for leg in self.legs})
        return (
            f"no answer from {', '.join(silent)}" if silent else "every leg done, the transfer not moved on"
        )


def transfers_stuck(
    *, now: dt.datetime, older_than: dt.timedelta, limit: int = 50
) -> tuple[int, list[StuckTransfer]]:
    """Transfers that wait on an operator: in PREPARED, COMMITTING or ABORTING for longer than
    ``older_than`` (each should be over within seconds; a CSD down, refusing a posting after the anchor, or
    not endorsing holds it), or with a leg a CSD gives no usable answer for (``OTHR``: a request it turned
    away whole, or ``SETTLEMENT_OUTCOME_UNKNOWN_ALERT_ATTEMPTS`` answers in a row that leave the outcome
    unknown), at once. A transfer waiting for its settlement date or recycling for lack of securities is not
    stuck: the market holds it, not a fault.

    Returns how many there are (``STUCK_COUNTED_UP_TO`` at most), and the ``limit`` longest held of them
    (``StuckTransfer``). Read through the transfers' status index and each one's legs and timeline: the
    in-flight transfers, never the table."""
    entered = (
        StatusEvent.objects.filter(transfer_id=OuterRef("pk"), to_status=OuterRef("status"))
        .order_by("-at")
        .values("at")[:1]
    )
    unknown = Leg.objects.filter(transfer_id=OuterRef("pk"), reason_code="OTHR")
    stuck = (
        Transfer.objects.filter(status__in=sorted({*_MUST_FINISH, *_CALLING}))
        .annotate(since=Subquery(entered), unknown=Exists(unknown))
        .filter(Q(status__in=_MUST_FINISH, since__lt=now - older_than) | Q(status__in=_CALLING, unknown=True))
    )
    # counted up to a cap: a CSD down for hours may hold many thousands, and a check every few seconds
    # need not count each of them
    count = stuck.order_by()[:STUCK_COUNTED_UP_TO].count()
    rows = list(
        stuck.order_by(F("since").asc(nulls_first=True), "pk").values_list("pk", "status", "since")[:limit]
    )
    legs: dict[int, list[StuckLeg]] = {pk: [] for pk, _status, _since in rows}
    statuses = {pk: status for pk, status, _since in rows}
    for transfer_id, code, leg_id, status, reason in (
        Leg.objects.filter(transfer_id__in=list(legs))
        .order_by("transfer_id", "position")
        .values_list("transfer_id", "csd__code", "leg_id", "status", "reason_code")
    ):
        if status != _LEGS_DONE[statuses[transfer_id]] or reason:
            legs[transfer_id].append(StuckLeg(code, leg_id, status, reason))
    return count, [StuckTransfer(pk, status, since, tuple(legs[pk])) for pk, status, since in rows]


def transfers_counted(count: int) -> str:
    """``count`` transfers in words, ``transfers_stuck``'s cap shown as the least there are."""
    capped = count >= STUCK_COUNTED_UP_TO
    return f"{count}{' or more' if capped else ''} transfer{'s' * (count != 1 or capped)}"


def transfers_overdue(*, now: dt.datetime, by: dt.timedelta) -> tuple[int, dt.datetime | None]:
    """How many transfers have been due for longer than ``by`` (``STUCK_COUNTED_UP_TO`` at most), and the
    oldest due time: no run has taken them (no worker, beat not running, a backlog the workers do not keep
    up with). Read through the due times' index."""
    overdue = Transfer.objects.filter(due_at__lt=now - by).exclude(status__in=TERMINAL_TRANSFER)
    count = overdue.order_by()[:STUCK_COUNTED_UP_TO].count()
    oldest = overdue.order_by("due_at").values_list("due_at", flat=True).first() if count else None
    return count, oldest
