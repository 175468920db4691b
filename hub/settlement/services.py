"""Writes of settlement before the protocol starts: instructions in, matching, cancellation, recycling.

``instruction_status_set`` and ``transfer_status_set`` (and their batch forms, ``instructions_status_set``
and ``transfers_status_set``) are the only functions that write a status: they compare-and-set the rows,
check the move against the tables in ``statuses``, and append the events.
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from hub.messaging.models import InboundMessage
from hub.messaging.services import Outgoing, outbound_enqueue_many, outbox_lock
from hub.registry.calendars import csd_business_day_add, csd_local_now
from hub.registry.models import (
    CSD,
    PARTICIPANT_KINDS,
    CSDLink,
    Participant,
    SecuritiesAccount,
    Security,
    bic8,
    bic_forms,
)
from hub.rows import Each, model_new, rows_append, rows_insert, rows_update, value_for
from hub.settlement import errors, notifications, selectors
from hub.settlement.matching import COMPARED_COLUMNS, Compared, matching_key, optional_fields_match
from hub.settlement.models import Instruction, Side, StatusEvent, Transfer
from hub.settlement.selectors import INSTRUCTION_REGISTRY, RegistryRows
from hub.settlement.statuses import (
    INSTRUCTION_MOVES,
    INSTRUCTION_OPEN,
    TRANSFER_MOVES,
    InstructionStatus,
    TransferStatus,
)
from iso20022 import models as m
from iso20022.errors import ReasonCode

RECYCLE_BUSINESS_DAYS = 20
SYSTEM = "system"


# Row locks are taken with ``of=("self",)``: PostgreSQL's FOR UPDATE otherwise locks every joined row too
# (accounts, securities, CSDs), which would serialise intake's foreign-key checks behind matching.


def in_lock_order(*instructions: Instruction) -> list[Instruction]:
    """Instructions in the order their participants' outbox counters are locked: by participant, so two
    transfers between the same participants in opposite directions never wait on each other."""
    return sorted(instructions, key=lambda instruction: (instruction.participant_id, instruction.pk))


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("status writes must run inside a database transaction")


def _status_moves(
    rows: list, *, moves: dict, to: str, cause: str | Each, actor: str, reason_code: str, fields: dict
) -> list:
    """Compare-and-set the status of every row in ``rows`` (all of one model) along the table of allowed
    ``moves``, and append one event per row that moved. Returns the rows that moved: a row whose status
    another actor changed meanwhile is left out, untouched. One UPDATE per current status and one INSERT
    of events, however many rows."""
    _require_transaction()
    if not rows:
        return []
    model = type(rows[0])
    for row in rows:
        if to not in moves[row.status]:
            raise errors.StatusConflict(
                f"{model.__name__.lower()} {row.pk} cannot go from {row.status} to {to}"
            )
    now = timezone.now()
    moved = []
    for current in sorted({row.status for row in rows}):
        changed = rows_update(
            model,
            [row.pk for row in rows if row.status == current],
            {"status": to, "updated_at": now, **fields},
            status=current,
        )
        moved += [row for row in rows if row.status == current and row.pk in changed]
    owner = "instruction_id" if model is Instruction else "transfer_id"
    rows_append(
        StatusEvent,
        [
            {
                owner: row.pk,
                "from_status": row.status,
                "to_status": to,
                "cause": value_for(cause, row.pk)[:200],
                "reason_code": reason_code,
                "actor": actor,
            }
            for row in moved
        ],
    )
    for row in moved:
        row.status = to
        row.updated_at = now
        for field, value in fields.items():
            setattr(row, field, value_for(value, row.pk))
    return moved


def _status_move(
    row, *, moves: dict, name: str, to: str, cause: str, actor: str, reason_code: str, fields: dict
):
    """Compare-and-set one row's status along the table of allowed ``moves`` and append its event."""
    if to not in moves[row.status]:
        raise errors.StatusConflict(f"{name} cannot go from {row.status} to {to}")
    moved = _status_moves(
        [row], moves=moves, to=to, cause=cause, actor=actor, reason_code=reason_code, fields=fields
    )
    if not moved:
        raise errors.StatusConflict(f"{name} changed while moving to {to}")
    return row


def instruction_status_set(
    *, instruction: Instruction, to: str, cause: str, actor: str, reason_code: str = "", **fields
) -> Instruction:
    return _status_move(
        instruction,
        moves=INSTRUCTION_MOVES,
        name=f"instruction {instruction.transaction_id}",
        to=to,
        cause=cause,
        actor=actor,
        reason_code=reason_code,
        fields=fields,
    )


def instructions_status_set(
    *,
    instructions: list[Instruction],
    to: str,
    cause: str | Each,
    actor: str,
    reason_code: str = "",
    **fields,
) -> list[Instruction]:
    """The batch form of ``instruction_status_set``: returns the instructions that moved. ``cause`` and
    any field may be ``Each`` (a value per instruction)."""
    return _status_moves(
        instructions,
        moves=INSTRUCTION_MOVES,
        to=to,
        cause=cause,
        actor=actor,
        reason_code=reason_code,
        fields=fields,
    )


def transfer_status_set(
    *, transfer: Transfer, to: str, cause: str, actor: str, reason_code: str = "", **fields
) -> Transfer:
    return _status_move(
        transfer,
        moves=TRANSFER_MOVES,
        name=f"transfer {transfer.pk}",
        to=to,
        cause=cause,
        actor=actor,
        reason_code=reason_code,
        fields=fields,
    )


def transfers_status_set(
    *, transfers: list[Transfer], to: str, cause: str, actor: str, reason_code: str = "", **fields
) -> list[Transfer]:
    """The batch form of ``transfer_status_set``: returns the transfers that moved."""
    return _status_moves(
        transfers,
        moves=TRANSFER_MOVES,
        to=to,
        cause=cause,
        actor=actor,
        reason_code=reason_code,
        fields=fields,
    )


# --- intake of an instruction ----------------------------------------------------------------------------


# how far ahead an intended settlement date may be: instructions are taken up to a year before they settle
# (a date beyond it is a keying error, and the recycling deadline counted from it could leave the calendar)
SETTLEMENT_HORIZON = dt.timedelta(days=366)


@dataclass(frozen=True)
class _Resolved:
    account: SecuritiesAccount
    security: Security
    counterparty_csd: CSD
    counterparty_bic: str  # as the registry holds it: DEMAZAJJ for DEMAZAJJXXX (both sides key it alike)


def _resolve(
    participant: Participant, body: m.SettlementInstruction, reference: "ReferenceData"
) -> _Resolved:
    """Every check of an instruction against reference data; the first failure is raised."""
    home = participant.home_csd
    if body.payment != m.Payment.FREE:
        raise errors.AgainstPaymentNotSupported(
            "the hub settles free of payment only (Pmt FREE, MT540/MT542)"
        )
    if bic8(body.account_owner_bic) != bic8(participant.bic):
        raise errors.NotTheAccountOwner(
            f"the account owner {body.account_owner_bic} is not the sender {participant.bic}"
        )
    account = reference.accounts.get(body.safekeeping_account)
    if account is None:
        raise errors.UnknownAccount(f"no safekeeping account {body.safekeeping_account} at {home.code}")
    if account.kind not in PARTICIPANT_KINDS or account.participant_id != participant.pk:
        raise errors.AccountOfAnotherParticipant(
            f"safekeeping account {body.safekeeping_account} at {home.code} is not an account of {participant.bic}"
        )
    if account.is_blocked:
        raise errors.BlockedAccount(f"safekeeping account {account.number} at {home.code} is blocked")
    security = reference.securities.get(body.security.isin)
    if security is None:
        raise errors.UnknownSecurity(f"ISIN {body.security.isin} is not a security the hub knows")
    if body.quantity.amount <= 0:
        raise errors.QuantityNotPositive(f"quantity {body.quantity.amount} must be greater than zero")
    if body.quantity.type.value != security.denomination:
        raise errors.QuantityTypeMismatch(
            f"{security.isin} is settled in {security.get_denomination_display().lower()}, not {body.quantity.type.value}"
        )
    if body.own_csd_bic and bic8(body.own_csd_bic) != bic8(home.bic):
        # the deliverer's and receiver's CSDs are matching fields: the sender's is its home CSD
        raise errors.NotTheOwnCsd(
            f"the instruction names {body.own_csd_bic} as its own depository, but {participant.bic} is a "
            f"participant of {home.code} ({home.bic})"
        )
    if body.intended_settlement_date < body.trade_date:
        raise errors.SettlementBeforeTrade(
            f"intended settlement date {body.intended_settlement_date} is before trade date {body.trade_date}"
        )
    if body.intended_settlement_date > reference.today + SETTLEMENT_HORIZON:
        raise errors.SettlementDateTooFar(
            f"intended settlement date {body.intended_settlement_date} is more than a year after "
            f"{reference.today}, the business date at {home.code}"
        )
    csd_bic = body.counterparty.csd_bic
    counterparty_csd = reference.csd(bic_forms(csd_bic))
    if counterparty_csd is None:
        raise errors.UnknownPlaceOfSettlement(f"{csd_bic} is not a CSD connected to the hub")
    if counterparty_csd.pk == home.pk:
        raise errors.NotCrossCsd(
            f"deliverer and receiver are both at {home.code}: settle it at {home.code} directly, not through the hub"
        )
    registered = [
        bic
        for bic in bic_forms(body.counterparty.bic)
        if (bic, counterparty_csd.pk) in reference.participants
    ]
    if not registered:
        raise errors.UnknownCounterparty(
            f"{body.counterparty.bic} is not a participant of {counterparty_csd.code}"
        )
    investors = {home.pk, counterparty_csd.pk} - {security.issuer_csd_id}
    for csd in (home, counterparty_csd):
        if csd.pk in investors and (csd.pk, security.issuer_csd_id) not in reference.links:
            raise errors.SecurityNotEligible(
                f"{security.isin} (issued at {security.issuer_csd.code}) is not held at {csd.code}: no link"
            )
    return _Resolved(
        account=account, security=security, counterparty_csd=counterparty_csd, counterparty_bic=registered[0]
    )


class ReferenceData:
    """The reference data that the instructions of one sender are checked against, read in five queries
    however many instructions there are: the sender's accounts, the securities, the counterparties' CSDs,
    the counterparties and the CSD links. Read afresh for every batch, never cached across batches."""

    def __init__(self, participant: Participant, bodies: Sequence[m.SettlementInstruction]) -> None:
        self.participant = participant
        home = participant.home_csd
        self.today = csd_local_now(home).date()
        numbers = {body.safekeeping_account for body in bodies}
        self.accounts = {
            account.number: account
            for account in SecuritiesAccount.objects.filter(csd=home, number__in=numbers)
        }
        isins = {body.security.isin for body in bodies}
        self.securities = {
            security.isin: security
            for security in Security.objects.select_related("issuer_csd").filter(isin__in=isins)
        }
        csd_bics = {bic for body in bodies for bic in bic_forms(body.counterparty.csd_bic)}
        # in the CSDs' own order, so that ``csd`` picks the one ``.first()`` would
        self._csds = list(CSD.objects.filter(bic__in=csd_bics))
        party_bics = {bic for body in bodies for bic in bic_forms(body.counterparty.bic)}
        self.participants = set(
            Participant.objects.filter(bic__in=party_bics).values_list("bic", "home_csd_id")
        )
        issuers = {security.issuer_csd_id for security in self.securities.values()}
        self.links = set(
            CSDLink.objects.filter(issuer_csd_id__in=issuers, is_active=True).values_list(
                "investor_csd_id", "issuer_csd_id"
            )
        )

    def csd(self, bics: Iterable[str]) -> CSD | None:
        return next((csd for csd in self._csds if csd.bic in bics), None)

    def resolve(self, body: m.SettlementInstruction) -> _Resolved:
        """Check ``body`` of this sender; raises the first ``SettlementError`` it breaks."""
        return _resolve(self.participant, body, self)


def instruction_submit(
    *, participant: Participant, body: m.SettlementInstruction, source_message: InboundMessage
) -> Instruction:
    """Validate and accept one side's instruction; matching follows in a task once this commits."""
    (outcome,) = instructions_submit(participant=participant, submissions=[(body, source_message)])
    if isinstance(outcome, errors.SettlementError):
        raise outcome
    return outcome


def instructions_submit(
    *,
    participant: Participant,
    submissions: Sequence[tuple[m.SettlementInstruction, InboundMessage]],
    reference: ReferenceData | None = None,
    notify: bool = True,
) -> list[Instruction | errors.SettlementError]:
    """Validate and accept many instructions of one sender, each as if submitted alone, in a few queries:
    the reference data once, one INSERT of the instructions and one of their events, one outbox write
    and one matching task for them all. Returns, in order, each one's instruction or the
    ``SettlementError`` that refused it; a refused one leaves nothing behind.

    With ``notify=False`` the caller queues each acceptance (``notifications.accepted``) itself, in this
    transaction: intake does, to keep the statuses of a file in the order its messages came."""
    _require_transaction()
    if reference is None:
        reference = ReferenceData(participant, [body for body, _source in submissions])
    home = participant.home_csd
    local_today = reference.today
    deadlines: dict[dt.date, dt.date] = {}
    outcomes: list[Instruction | errors.SettlementError] = []
    for body, source_message in submissions:
        try:
            resolved = reference.resolve(body)
        except errors.SettlementError as exc:
            outcomes.append(exc)
            continue
        counterparty = body.counterparty
        start = max(local_today, body.intended_settlement_date)
        if start not in deadlines:
            deadlines[start] = csd_business_day_add(home, start, RECYCLE_BUSINESS_DAYS)
        outcomes.append(
            model_new(
                Instruction,
                participant=participant,
                transaction_id=body.transaction_id,
                business_message_id=body.business_message_id or "",
                side=body.side.value,
                security=resolved.security,
                quantity=body.quantity.amount,
                trade_date=body.trade_date,
                intended_settlement_date=body.intended_settlement_date,
                account=resolved.account,
                csd=home,
                counterparty_bic=resolved.counterparty_bic,
                counterparty_csd=resolved.counterparty_csd,
                counterparty_account=counterparty.safekeeping_account or "",
                common_trade_reference=body.common_trade_reference or "",
                # client BICs are compared as written by either side: the primary office's XXX goes
                client_bic=bic8(body.client_bic or ""),
                client_account=body.client_account or "",
                counterparty_client_bic=bic8(counterparty.client_bic or ""),
                counterparty_client_account=counterparty.client_account or "",
                matching_key=matching_key(
                    side=body.side.value,
                    isin=resolved.security.isin,
                    quantity=body.quantity.amount,
                    trade_date=body.trade_date,
                    intended_settlement_date=body.intended_settlement_date,
                    sender_bic=participant.bic,
                    sender_csd_bic=home.bic,
                    counterparty_bic=resolved.counterparty_bic,
                    counterparty_csd_bic=resolved.counterparty_csd.bic,
                ),
                match_deadline=deadlines[start],
                source_message=source_message,
            )
        )
    accepted = [outcome for outcome in outcomes if isinstance(outcome, Instruction)]
    if not accepted:
        return outcomes
    outbox_lock(participant=participant)  # the sender's instructions commit in the order of their ids
    rows_insert(accepted)
    rows_append(
        StatusEvent,
        [
            {
                "instruction_id": instruction.pk,
                "to_status": InstructionStatus.ACCEPTED,
                "cause": "validated",
                "actor": participant.bic,
            }
            for instruction in accepted
        ],
    )
    if notify:
        outbound_enqueue_many(
            messages=[
                Outgoing(
                    participant,
                    notifications.accepted(instruction),
                    instruction.transaction_id,
                    InstructionStatus.ACCEPTED,
                )
                for instruction in accepted
            ]
        )
    instruction_ids = [instruction.pk for instruction in accepted]
    # robust: the instructions are committed, and their sender is told so, whatever the broker says; a
    # matching task lost here (the broker down at commit) is re-driven by ``instructions_match_redrive``
    transaction.on_commit(lambda: _enqueue_match(instruction_ids), robust=True)
    return outcomes


def _enqueue_match(instruction_ids: list[int]) -> None:
    """One matching task per ``MATCH_BATCH`` instructions."""
    from hub.settlement.tasks import instructions_match

    for start in range(0, len(instruction_ids), MATCH_BATCH):
        instructions_match.delay(instruction_ids[start : start + MATCH_BATCH])


def instructions_match_redrive(*, now: dt.datetime) -> list[int]:
    """Matching again for the instructions still ACCEPTED ``SETTLEMENT_MATCH_SWEEP_GRACE_SECONDS`` after
    their last write: their matching task was lost (the broker was down when they committed, or lost its
    queue). At most ``SETTLEMENT_SWEEP_BATCH`` of them are claimed by touching their ``updated_at``, so that
    the sweeps that follow pass over them for another grace while their task waits in the queue; a row
    that a matching run holds is skipped. Their matching is scheduled on commit; their ids are returned.
    A task that was only slow costs a matching run that finds them matched already."""
    with transaction.atomic():
        claimed = list(
            selectors.instructions_accepted_overdue(now=now)
            .select_for_update(of=("self",), skip_locked=True)
            .values_list("pk", flat=True)[: settings.SETTLEMENT_SWEEP_BATCH]
        )
        if claimed:
            Instruction.objects.filter(pk__in=claimed, status=InstructionStatus.ACCEPTED).update(
                updated_at=now
            )
            # robust: the claim is committed whatever the broker says; a task lost here (the broker down)
            # is queued again by the sweep after the next grace, as any lost matching task is
            transaction.on_commit(lambda: _enqueue_match(claimed), robust=True)
    return claimed


MATCH_BATCH = 500  # instructions per matching task
MATCH_CANDIDATES = 50  # the open counterparts an instruction's turn reads, oldest first
MATCH_ROUNDS = 5  # turns of an instruction whose chosen counterpart is taken meanwhile


# --- matching --------------------------------------------------------------------------------------------


def instruction_match(*, instruction_id: int) -> Transfer | None:
    """Match an open instruction with an open counterpart, or mark it unmatched; the transfer it made,
    if any. ``instructions_match`` with a batch of one."""
    return instructions_match(instruction_ids=[instruction_id]).get(instruction_id)


def instructions_match(*, instruction_ids: Sequence[int]) -> dict[int, Transfer]:
    """Match each open instruction of ``instruction_ids`` with an open counterpart, or mark it unmatched,
    as if matched one after another in that order, with a few queries for the whole batch. Returns the
    transfers made, by the id of the instruction whose turn made them.

    Safe to run twice and concurrently, for both sides of a pair too: the rows are locked in id order
    and their status rechecked under the lock. An instruction whose chosen counterpart was taken
    meanwhile has another turn, in a new transaction; after ``MATCH_ROUNDS`` turns it is left open for
    the recycling sweep to match again."""
    made: dict[int, Transfer] = {}
    pending = list(dict.fromkeys(instruction_ids))
    for _round in range(MATCH_ROUNDS):
        if not pending:
            break
        with transaction.atomic():
            transfers, pending = _match_round(pending)
        made.update(transfers)
    return made


def _compared(queryset) -> list[Compared]:
    return [Compared(*row) for row in queryset.values_list(*COMPARED_COLUMNS)]


def _match_round(instruction_ids: list[int]) -> tuple[dict[int, Transfer], list[int]]:
    """One turn of ``instructions_match``: the transfers made, and the instructions to try again.

    Turns are taken on plain values (``Compared``); only the instructions a turn involves are read whole,
    when they are locked."""
    position = {pk: n for n, pk in enumerate(instruction_ids)}
    instructions = sorted(
        _compared(Instruction.objects.filter(pk__in=instruction_ids, status__in=INSTRUCTION_OPEN)),
        key=lambda instruction: position[instruction.pk],
    )
    if not instructions:
        return {}, []
    # the first MATCH_CANDIDATES open instructions of each (key, side) by age, as each turn would read
    # them, and enough beyond them for the ones this batch takes itself
    per_key = Counter(instruction.matching_key for instruction in instructions)
    window = Window(
        RowNumber(),
        partition_by=[F("matching_key"), F("side")],
        order_by=[F("created_at").asc(), F("pk").asc()],
    )
    rows = {instruction.pk: instruction for instruction in instructions}
    queues: dict[tuple[str, str], list[Compared]] = {}
    for candidate in _compared(
        Instruction.objects.filter(matching_key__in=per_key, status__in=INSTRUCTION_OPEN)
        .annotate(rank=window)
        .filter(rank__lte=MATCH_CANDIDATES + max(per_key.values()))
        .order_by("created_at", "pk")
    ):
        candidate = rows.setdefault(candidate.pk, candidate)
        queues.setdefault((candidate.matching_key, candidate.side), []).append(candidate)
    # every turn in order, in memory: an instruction taken as a counterpart has no turn of its own
    taken: set[int] = set()
    turns: list[tuple[Compared, Compared | None]] = []
    for instruction in instructions:
        if instruction.pk in taken:
            continue
        opposite = Side.RECEIVE if instruction.side == Side.DELIVER else Side.DELIVER
        chosen, seen = None, 0
        for candidate in queues.get((instruction.matching_key, opposite), []):
            if candidate.pk in taken:
                continue
            seen += 1
            if seen > MATCH_CANDIDATES:
                # more open counterparts than a turn reads, none of them agreeing so far: the database
                # finds the oldest that agrees, however far back (rare: many same-key trades at once)
                chosen = _agreeing_counterpart(instruction, opposite, taken)
                break
            if optional_fields_match(instruction, candidate):
                chosen = candidate
                break
        if chosen is not None:
            taken |= {instruction.pk, chosen.pk}
        turns.append((instruction, chosen))
    involved = {instruction.pk for instruction, _chosen in turns} | {
        chosen.pk for _instruction, chosen in turns if chosen is not None
    }
    # the lock reads the involved instructions whole; the registry rows their notices read are read once
    # each, not locked
    locked = {
        row.pk: row for row in Instruction.objects.select_for_update().filter(pk__in=involved).order_by("pk")
    }
    RegistryRows().attach(locked.values(), *INSTRUCTION_REGISTRY)
    unmatched, pairs, again = [], [], []
    for instruction, chosen in turns:
        mine = locked[instruction.pk]
        if chosen is None:
            if mine.status == InstructionStatus.ACCEPTED:
                unmatched.append(mine)
            continue
        theirs = locked[chosen.pk]
        if mine.status not in INSTRUCTION_OPEN:
            continue
        if theirs.status not in INSTRUCTION_OPEN:
            again.append(mine.pk)  # taken meanwhile: another turn, with the candidates then open
            continue
        pairs.append((mine, theirs))
    moved = instructions_status_set(
        instructions=unmatched, to=InstructionStatus.UNMATCHED, cause="no counterpart yet", actor=SYSTEM
    )
    notices = [
        Outgoing(
            row.participant, notifications.unmatched(row), row.transaction_id, InstructionStatus.UNMATCHED
        )
        for row in moved
    ]
    transfers = _pairs(pairs, notices)
    outbound_enqueue_many(messages=notices)
    return {mine.pk: transfer for (mine, _theirs), transfer in zip(pairs, transfers, strict=True)}, again


def _agreeing_counterpart(instruction: Compared, side: str, taken: set[int]) -> Compared | None:
    """The oldest open instruction of ``side`` with the same key whose optional fields agree with
    ``instruction``'s (equal, or blank on either side), none of ``taken``."""

    def agrees(field: str, value: str) -> Q:
        return Q(**{field: ""}) | Q(**{field: value}) if value else Q()

    candidates = (
        Instruction.objects.filter(
            matching_key=instruction.matching_key, side=side, status__in=INSTRUCTION_OPEN
        )
        .exclude(pk__in=taken | {instruction.pk})
        .filter(
            agrees("common_trade_reference", instruction.common_trade_reference),
            agrees("account__number", instruction.counterparty_account),
            agrees("counterparty_account", instruction.account_number),
            agrees("client_bic", instruction.counterparty_client_bic),
            agrees("counterparty_client_bic", instruction.client_bic),
            agrees("client_account", instruction.counterparty_client_account),
            agrees("counterparty_client_account", instruction.client_account),
        )
        .order_by("created_at", "pk")
    )
    found = _compared(candidates[:1])
    return found[0] if found and optional_fields_match(instruction, found[0]) else None


def _pairs(pairs: list[tuple[Instruction, Instruction]], notices: list[Outgoing]) -> list[Transfer]:
    """A transfer for each locked pair of open instructions, in order; the MATCHED statuses for both
    sides are added to ``notices``, and the settlement protocol is scheduled for them all on commit."""
    if not pairs:
        return []
    sides = [(one, other) if one.side == Side.DELIVER else (other, one) for one, other in pairs]
    now = timezone.now()
    transfers = rows_insert(
        [
            model_new(
                Transfer,
                deliver=deliver,
                receive=receive,
                security=deliver.security,
                quantity=deliver.quantity,
                intended_settlement_date=deliver.intended_settlement_date,
                due_at=now,  # the protocol's outbox: due at once, re-driven by the sweeper if lost
            )
            for deliver, receive in sides
        ]
    )
    transfer_ids = [transfer.pk for transfer in transfers]
    transaction.on_commit(lambda: _enqueue_advance_many(transfer_ids))
    rows_append(
        StatusEvent,
        [
            {
                "transfer_id": transfer.pk,
                "to_status": TransferStatus.MATCHED,
                "cause": f"matched {deliver.transaction_id} with {receive.transaction_id}",
                "actor": SYSTEM,
            }
            for transfer, (deliver, receive) in zip(transfers, sides, strict=True)
        ],
    )
    ordered = [
        (transfer, side)
        for transfer, (deliver, receive) in zip(transfers, sides, strict=True)
        for side in in_lock_order(deliver, receive)
    ]
    # every pair in one status write: each instruction with its own transfer
    moved = instructions_status_set(
        instructions=[side for _transfer, side in ordered],
        to=InstructionStatus.MATCHED,
        cause=Each({side.pk: f"transfer {transfer.pk}" for transfer, side in ordered}),
        actor=SYSTEM,
        transfer=Each({side.pk: transfer for transfer, side in ordered}),
    )
    if len(moved) != len(ordered):
        raise errors.StatusConflict("an instruction changed while matching")
    notices += [
        Outgoing(
            side.participant, notifications.matched(side), side.transaction_id, InstructionStatus.MATCHED
        )
        for _transfer, side in ordered
    ]
    return transfers


def _enqueue_advance_many(transfer_ids: list[int]) -> None:
    """The protocol for the transfers one matching transaction made: one task per protocol batch."""
    from hub.settlement.tasks import batches, transfers_advance

    for chunk in batches(transfer_ids):
        transfers_advance.delay(chunk)


# --- cancellation ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CancellationOutcome:
    instruction: Instruction
    processing: m.ProcessingStatusCode
    reason: m.Reason | None = None


def _cancellation_describes(request: m.CancellationRequest, instruction: Instruction) -> None:
    """Refuse a cancellation whose details are not those of the instruction it names: it was meant for
    another one (or the sender is mistaken), and it must not cancel this one. sese.027 rejects with SAFE
    (the account) or REFE (the reference names another instruction) only."""
    quantity = request.quantity.amount if request.quantity else None
    checks = (
        (ReasonCode.REFERENCE, "side", request.side.value, instruction.side),
        (ReasonCode.SAFEKEEPING_ACCOUNT, "account", request.safekeeping_account, instruction.account.number),
        (ReasonCode.REFERENCE, "ISIN", request.security and request.security.isin, instruction.security.isin),
        (ReasonCode.REFERENCE, "quantity", quantity, instruction.quantity),
        (
            ReasonCode.REFERENCE,
            "settlement date",
            request.intended_settlement_date,
            instruction.intended_settlement_date,
        ),
    )
    for reason, name, said, actual in checks:
        if said is not None and said != actual:
            raise errors.CancellationDoesNotMatch(
                f"the cancellation gives {name} {said}, but instruction {instruction.transaction_id} has {actual}",
                reason_code=reason.value,
            )


def _cancel(instruction: Instruction, *, reason: str, narrative: str, actor: str) -> None:
    instruction_status_set(
        instruction=instruction,
        to=InstructionStatus.CANCELLED,
        cause=narrative,
        actor=actor,
        reason_code=reason,
    )
    notifications.notify(
        instruction,
        notifications.cancelled(instruction, reason=reason, why=narrative),
        status=InstructionStatus.CANCELLED,
    )


def instruction_cancel(
    *,
    participant: Participant,
    transaction_id: str,
    request: m.CancellationRequest | None = None,
    source_message: InboundMessage | None = None,
) -> CancellationOutcome:
    """A participant's request to cancel its instruction (sese.020): at once before matching; after
    matching only once both sides have asked and settlement has not started (as T2S). What ``request``
    says of the instruction (side, account, security, quantity, settlement date) must be what it is.
    ``source_message`` is the request as received: one left pending the counterparty's is recorded on the
    instruction, so that its final answer (``cancellations_deny``) names it."""
    _require_transaction()
    related = ("participant", "account", "security", "counterparty_csd")
    found = (
        Instruction.objects.filter(participant=participant, transaction_id=transaction_id)
        .values_list("pk", "transfer_id")
        .first()
    )
    if found is None:
        raise errors.UnknownInstruction(f"{participant.bic} has no instruction {transaction_id}")
    pk, transfer_id = found
    # locks in the protocol's order, the transfer before its instructions, and the two instructions by id:
    # both sides asking at once then wait for each other instead of deadlocking, and so does a protocol run
    transfer = None
    ids = [pk]
    if transfer_id is not None:
        transfer = Transfer.objects.select_for_update(of=("self",)).get(pk=transfer_id)
        ids = sorted({transfer.deliver_id, transfer.receive_id})
    locked = {
        row.pk: row
        for row in Instruction.objects.select_for_update(of=("self",))
        .select_related(*related)
        .filter(pk__in=ids)
        .order_by("pk")
    }
    instruction = locked[pk]
    if request is not None:
        _cancellation_describes(request, instruction)
    denied = m.ProcessingStatusCode.DENIED
    if instruction.status in INSTRUCTION_OPEN:
        _cancel(
            instruction,
            reason=notifications.CANCELLED_BY_SENDER,
            narrative="cancelled at the sender's request",
            actor=participant.bic,
        )
        return CancellationOutcome(instruction, m.ProcessingStatusCode.CANCELLED)
    if instruction.status != InstructionStatus.MATCHED:
        code = {InstructionStatus.CANCELLED: "DCAN", InstructionStatus.SETTLED: "DSET"}.get(
            instruction.status, "OTHR"
        )
        return CancellationOutcome(
            instruction, denied, m.Reason(code=code, narrative=f"instruction is {instruction.status.lower()}")
        )
    if transfer is None:  # matched since it was read: the transfer's lock comes after all
        transfer = Transfer.objects.select_for_update(of=("self",)).get(pk=instruction.transfer_id)
    if transfer.status != TransferStatus.MATCHED:
        return CancellationOutcome(
            instruction,
            denied,
            m.Reason(code="DPRG", narrative=f"settlement has started ({transfer.status.lower()})"),
        )
    counterpart_id = transfer.receive_id if transfer.deliver_id == instruction.pk else transfer.deliver_id
    counterpart = locked.get(counterpart_id) or (
        Instruction.objects.select_for_update(of=("self",)).select_related(*related).get(pk=counterpart_id)
    )
    recorded = {"cancellation_message": source_message} if source_message is not None else {}
    Instruction.objects.filter(pk=instruction.pk).update(cancellation_requested=True, **recorded)
    if not counterpart.cancellation_requested:
        StatusEvent.objects.create(
            instruction=instruction,
            from_status=instruction.status,
            to_status=instruction.status,
            cause="cancellation requested; awaiting counterparty",
            actor=participant.bic,
        )
        if not instruction.cancellation_requested:  # a repeated request tells the counterparty nothing new
            outbound_enqueue_many(
                messages=[
                    Outgoing(
                        counterpart.participant,
                        notifications.cancellation_requested(counterpart),
                        counterpart.transaction_id,
                        "CANCELLATION_REQUESTED",
                    )
                ]
            )
        return CancellationOutcome(
            instruction,
            m.ProcessingStatusCode.PENDING_CANCELLATION,
            # CONF: awaiting the counterparty's confirmation
            m.Reason(code="CONF", narrative="matched: cancelled once the counterparty asks too"),
        )
    transfer_status_set(
        transfer=transfer,
        to=TransferStatus.CANCELLED,
        cause="both parties cancelled",
        actor=participant.bic,
        due_at=None,  # the protocol has nothing more to do with it
    )
    for side in in_lock_order(instruction, counterpart):
        _cancel(
            side,
            reason=notifications.CANCELLED_BY_SENDER,
            narrative="cancelled by both parties",
            actor=participant.bic,
        )
    return CancellationOutcome(instruction, m.ProcessingStatusCode.CANCELLED)


def cancellations_deny(*, transfers: list[Transfer], reason: str, narrative: str) -> list[Instruction]:
    """Answer for good the cancellations still pending on the instructions of ``transfers``: one side
    asked while its transfer was matched, the counterparty did not, and now settlement has started (DPRG)
    or ended (DSET ...). The requester gets its final sese.027 / MT548: denied for ``reason``. Each is
    answered once: the flag is cleared by the compare-and-set that finds it. Returns those answered."""
    _require_transaction()
    by_id = {i.pk: i for t in transfers for i in (t.deliver, t.receive)}
    if not by_id:
        return []
    marks = ", ".join(["%s"] * len(by_id))
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            "UPDATE settlement_instruction SET cancellation_requested = false "  # noqa: S608 (placeholders)
            f"WHERE id IN ({marks}) AND cancellation_requested RETURNING id, cancellation_message_id",
            list(by_id),
        )
        # the request as the row has it now: it may have come after the caller read the instruction
        request_of = dict(cursor.fetchall())
    asked = in_lock_order(*(by_id[pk] for pk in request_of))
    for instruction in asked:
        instruction.cancellation_requested = False
        instruction.cancellation_message_id = request_of[instruction.pk]
    requests = selectors.cancellation_requests(filter(None, request_of.values()))
    rows_append(
        StatusEvent,
        [
            {
                "instruction_id": i.pk,
                "from_status": i.status,
                "to_status": i.status,
                "cause": f"cancellation denied: {narrative}"[:200],
                "reason_code": reason,
                "actor": SYSTEM,
            }
            for i in asked
        ],
    )
    messages = []
    for instruction in asked:
        request, business_message_id = requests.get(request_of[instruction.pk], (None, None))
        body = notifications.cancellation_denied(instruction, request=request, reason=reason, why=narrative)
        messages.append(
            Outgoing(
                instruction.participant,
                body,
                instruction.transaction_id,
                "CANCELLATION_DENIED",
                related_id=business_message_id,
            )
        )
    outbound_enqueue_many(messages=messages)
    return asked


# --- recycling -------------------------------------------------------------------------------------------


def instructions_recycle(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Cancel the instructions still unmatched after their last business day of matching (20 business
    days of their CSD's calendar), and return how many were cancelled and how many stay in matching."""
    now = now or timezone.now()
    expired = 0
    for csd in CSD.objects.all():
        local_today = csd_local_now(csd, now=now).date()
        due = Instruction.objects.filter(csd=csd, status__in=INSTRUCTION_OPEN, match_deadline__lt=local_today)
        for instruction_id in due.values_list("pk", flat=True).iterator():
            with transaction.atomic():
                instruction = (
                    Instruction.objects.select_for_update(of=("self",))
                    .select_related("participant", "account", "security", "counterparty_csd")
                    .get(pk=instruction_id)
                )
                if instruction.status in INSTRUCTION_OPEN:
                    _cancel(
                        instruction,
                        reason=notifications.CANCELLED_BY_SYSTEM,
                        narrative=f"unmatched for {RECYCLE_BUSINESS_DAYS} business days",
                        actor=SYSTEM,
                    )
                    expired += 1
    waiting = Instruction.objects.filter(Q(status__in=INSTRUCTION_OPEN)).count()
    return {"cancelled": expired, "unmatched": waiting}
