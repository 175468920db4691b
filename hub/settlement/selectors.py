"""Reads of settlement: instructions and transfers, always scoped to who asks; and, for the services, the
registry rows a batch of them points at."""

import datetime as dt
from collections.abc import Iterable

from django.db.models import Model, QuerySet
from django.utils import timezone

from hub.messaging.models import InboundMessage
from hub.registry.models import CSD, Participant, SecuritiesAccount, Security
from hub.settlement.models import Instruction
from hub.settlement.statuses import INSTRUCTION_OPEN, InstructionStatus
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
