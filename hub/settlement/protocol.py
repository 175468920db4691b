"""The cross-CSD settlement protocol (ARCHITECTURE.md §4): prepare every leg -> anchor the commit decision
on the shared ledger -> commit every leg; abort only before the anchor, roll forward after it.

``transfers_advance`` is the one entry point. It runs the protocol for a **batch** of transfers: it claims
them with a conditional UPDATE of their due times (a lease), and from a task fills the batch with any other
due transfers, takes each as far as it can go now, and hands each back with the time it is next due.
Batching is what makes it fast, and it gives up nothing of each transfer's atomicity:

- every CSD is called once per step for all the batch's legs at that CSD (``prepare_many``,
  ``commit_many``), outside any database transaction, and every call is idempotent on the leg id, so a
  run that dies anywhere is simply run again by the sweeper once its lease lapses;
- each transfer keeps its own status, its own COMMIT entry (one per transfer, never one per batch) and
  its own outcome: a refusal at one CSD fails or recycles only the transfers whose legs it refused;
- each step writes its outcome with a compare-and-set, so two runs that overlap never apply a step twice.

The steps, by the transfer's status:

- MATCHED: waits until the intended settlement date has begun at every CSD the legs post at, each in its
  own time zone (and is a business day of each one's calendar when ``SETTLEMENT_BUSINESS_DAYS_ONLY``, and
  not past any one's settlement cut-off when ``SETTLEMENT_CUTOFFS_ENFORCED``), then plans the legs and
  moves to PREPARING.
- PREPARING: reserves each leg. Lack of securities is recycled while no CSD the legs post at is past its
  cut-off (participants get a pending status: LACK to the deliverer, CLAC to the receiver), then the
  transfer aborts; any other refusal aborts at once. The rules it started under hold until the anchor:
  before the CSDs are called and again before the anchor, a transfer whose CSD has closed the business
  day it started on, or passed its cut-off (as the settings above enforce them), aborts (LACK if it
  waited for securities, LATE for the day's close); so does one whose ISIN reconciliation has suspended
  meanwhile, as read once for the batch before the CSDs are called (SUSP).
- PREPARING -> PREPARED: once every leg is reserved, the COMMIT entry is appended to the shared ledger in
  the same transaction. That is the point of no return.
- PREPARED -> COMMITTING: once the COMMIT entry sits in a sealed block endorsed by every CSD involved.
- COMMITTING -> SETTLED: every leg posted; a SETTLED entry, confirmations to both participants.
- ABORTING -> FAILED: every leg released; an ABORT entry, a failure status to both participants.

Transient CSD failures (unreachable, timeout, an answer that says nothing sure of the legs) are retried with
exponential backoff, jitter and a cap, for the transfers with a leg at that CSD only; an answer that leaves
a leg's outcome unknown ``SETTLEMENT_OUTCOME_UNKNOWN_ALERT_ATTEMPTS`` times in a row is logged at ERROR
and shown on the leg (OTHR).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from csd_adapters import base as csd
from hub.ledger.models import Endorsement, Entry
from hub.ledger.services import EntryDraft, entries_append, entry_append, ledger_seal_request
from hub.messaging.services import Outgoing, outbound_enqueue_many
from hub.reconciliation.selectors import isins_suspended_csds
from hub.registry.adapters import csd_adapter, csd_calls_parallel
from hub.registry.calendars import (
    csd_business_day_add,
    csd_is_business_day,
    csd_is_past_cutoff,
    csd_local_now,
)
from hub.registry.models import CSD, CSDStatus
from hub.rows import Each, model_new, rows_insert, rows_update
from hub.settlement import notifications
from hub.settlement.errors import StatusConflict
from hub.settlement.legs import LinkAccounts, MissingLinkAccount, leg_ids_new, legs_plan, link_accounts_load
from hub.settlement.models import Instruction, Leg, LegStatus, Side, Transfer
from hub.settlement.selectors import INSTRUCTION_REGISTRY, RegistryRows
from hub.settlement.services import (
    SYSTEM,
    cancellations_deny,
    in_lock_order,
    instruction_status_set,
    instructions_status_set,
    transfer_status_set,
    transfers_status_set,
)
from hub.settlement.statuses import TERMINAL_TRANSFER, InstructionStatus, TransferStatus

log = logging.getLogger(__name__)

AdapterFor = Callable[[CSD], csd.CsdAdapter]
Due = dt.datetime | None
CONTINUE = "continue"  # a step's answer for a transfer that moved on: look at it again in the next round
ROUNDS = 12
ANCHOR_REQUEST_EXPIRES = 5  # seconds


# --- claiming, loading and handing back ------------------------------------------------------------------


def transfers_claim(*, transfer_ids: Iterable[int], now: dt.datetime, fill_to: int = 0) -> list[int]:
    """Take for one run those of ``transfer_ids`` that are due and not held by another run; with
    ``fill_to``, then other due transfers too, the longest due first, until the run holds that many.

    Filling makes every run under a backlog a full batch, however small the batches its work was queued
    in: the tasks that queued the transfers it took find them held and end at once."""
    ids = sorted(set(transfer_ids))
    lease_until = now + dt.timedelta(seconds=settings.SETTLEMENT_LEASE_SECONDS)
    terminal = ", ".join(["%s"] * len(TERMINAL_TRANSFER))
    claimed: list[int] = []
    with connection.cursor() as cursor:
        if ids:
            marks = ", ".join(["%s"] * len(ids))
            cursor.execute(
                # a conditional UPDATE is the claim: of two runs, only one sees a transfer still due
                f"UPDATE settlement_transfer SET due_at = %s WHERE id IN ({marks}) "  # noqa: S608
                f"AND due_at <= %s AND status NOT IN ({terminal}) RETURNING id",
                [lease_until, *ids, now, *TERMINAL_TRANSFER],
            )
            claimed = [row[0] for row in cursor.fetchall()]
        room = fill_to - len(claimed)
        if room > 0:
            # rows another run is claiming right now are passed over, not waited for
            skip = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
            cursor.execute(
                "UPDATE settlement_transfer SET due_at = %s WHERE id IN ("  # noqa: S608 (placeholders only)
                f"SELECT id FROM settlement_transfer WHERE due_at <= %s AND status NOT IN ({terminal}) "
                f"ORDER BY due_at LIMIT %s{skip}) RETURNING id",
                [lease_until, now, *TERMINAL_TRANSFER, room],
            )
            claimed += [row[0] for row in cursor.fetchall()]
    return sorted(claimed)


def _load(transfer_ids: list[int], registry: RegistryRows) -> list[Transfer]:
    """The transfers with their instructions and the registry rows the steps read, in a few queries
    (one wide join would cost more to plan and to turn into rows than to run)."""
    transfers = list(Transfer.objects.filter(pk__in=transfer_ids).order_by("pk"))
    instructions = Instruction.objects.in_bulk([pk for t in transfers for pk in (t.deliver_id, t.receive_id)])
    registry.attach(instructions.values(), *INSTRUCTION_REGISTRY)
    registry.attach(transfers, "security")
    for transfer in transfers:
        _TRANSFER_DELIVER.set_cached_value(transfer, instructions[transfer.deliver_id])
        _TRANSFER_RECEIVE.set_cached_value(transfer, instructions[transfer.receive_id])
    return transfers


_TRANSFER_DELIVER = Transfer._meta.get_field("deliver")
_TRANSFER_RECEIVE = Transfer._meta.get_field("receive")


def _legs_of(transfers: list[Transfer], registry: RegistryRows) -> dict[int, list[Leg]]:
    legs: dict[int, list[Leg]] = {t.pk: [] for t in transfers}
    rows = list(Leg.objects.filter(transfer_id__in=list(legs)).order_by("transfer_id", "position"))
    registry.attach(rows, "csd", "debit_account", "credit_account")
    for leg in rows:
        legs[leg.transfer_id].append(leg)
    return legs


# what a terminal status write sets besides the status, so that the run's hand-back can skip the row (a
# move to PREPARED hands the transfer back too, due when the ledger is next checked)
_HANDED_BACK = {"due_at": None, "attempts": 0}


def _hand_back(run: _Run) -> None:
    """Every claimed transfer's next due time (its lease ends), and its count of transient failures; but
    for the transfers whose final status write has done it already."""
    ids = [pk for pk in run.due if pk not in run.closed]
    rows_update(
        Transfer,
        ids,
        {
            "due_at": Each({pk: run.due[pk] for pk in ids}),
            "attempts": Each({pk: run.attempts.get(pk, 0) for pk in ids}),
            "updated_at": timezone.now(),
        },
    )


@dataclass
class _Run:
    """One run over a batch: its clock, how it reaches CSDs, and what it has decided so far."""

    adapter_for: AdapterFor
    now: dt.datetime
    # the time when a step looks again after calling the CSDs (which may take a while): the system's clock,
    # or the run's fixed ``now`` when one was given
    clock: Callable[[], dt.datetime]
    due: dict[int, Due] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)
    link_accounts: LinkAccounts | None = None  # read once, when the run first plans legs
    registry: RegistryRows = field(default_factory=RegistryRows)
    # transfers a status write has handed back already (their due time and attempts set), in that write
    closed: set[int] = field(default_factory=set)

    def retry(self, transfer: Transfer, exc: Exception) -> dt.datetime:
        """When to try again after a transient failure: exponential backoff with jitter, capped."""
        attempts = transfer.attempts + 1
        ceiling = min(
            settings.SETTLEMENT_RETRY_CAP_SECONDS,
            settings.SETTLEMENT_RETRY_BASE_SECONDS * 2 ** (attempts - 1),
        )
        self.attempts[transfer.pk] = attempts
        due = self.now + dt.timedelta(seconds=random.uniform(ceiling / 2, ceiling))
        log.warning("transfer %s: %s; retry %d at %s", transfer.pk, exc, attempts, due)
        return due


def transfer_advance(
    *,
    transfer_id: int,
    adapter_for: AdapterFor | None = None,
    now: dt.datetime | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> Due:
    """``transfers_advance`` for one transfer: when it is next due (None when it is terminal, or when it
    was not due or is held by another run)."""
    return transfers_advance(transfer_ids=[transfer_id], adapter_for=adapter_for, now=now, clock=clock).get(
        transfer_id
    )


def transfers_advance(
    *,
    transfer_ids: Iterable[int],
    adapter_for: AdapterFor | None = None,
    now: dt.datetime | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    fill_to: int = 0,
) -> dict[int, Due]:
    """Run the protocol for a batch of transfers as far as each goes now (with ``fill_to``, and for other
    due transfers, up to that many in all: ``transfers_claim``). Returns, for each transfer this run
    claimed, when it is next due (None once terminal); transfers not due or held elsewhere are left out.

    ``clock`` tells the time when a step looks again after calling the CSDs (the system's clock by default,
    or ``now`` when that is given)."""
    if clock is None:
        clock = timezone.now if now is None else partial(_fixed, now)
    now = now or clock()
    claimed = transfers_claim(transfer_ids=transfer_ids, now=now, fill_to=fill_to)
    if not claimed:
        return {}
    run = _Run(adapter_for=adapter_for or csd_adapter, now=now, clock=clock)
    transfers: dict[int, Transfer] = {}
    legs: dict[int, list[Leg]] = {}
    stale, fresh = claimed, []
    for _round in range(ROUNDS):
        # the rows this run moved are carried over in memory; any other is read again (another actor, a
        # cancellation say, may have moved it)
        loaded = _load(stale, run.registry) if stale else []
        legs.update(_legs_of(loaded, run.registry))
        transfers.update((t.pk, t) for t in loaded)
        active = [*loaded, *fresh]
        if not active:
            break
        groups: dict[str, list[Transfer]] = {}
        for transfer in active:
            groups.setdefault(transfer.status, []).append(transfer)
        stale, fresh = [], []
        for status, group in groups.items():
            if status in TERMINAL_TRANSFER:
                run.due.update((t.pk, None) for t in group)
                continue
            try:
                answers = _STEPS[status](group, legs, run)
            except OperationalError as exc:
                # the database chose this run as a deadlock's victim: the whole step is retried later
                answers = {t.pk: run.retry(t, exc) for t in group}
            for transfer in group:
                answer = answers.get(transfer.pk, CONTINUE)
                if answer != CONTINUE:
                    run.due[transfer.pk] = answer
                elif transfer.status != status:
                    fresh.append(transfer)
                else:
                    stale.append(transfer.pk)
    else:
        # more to do than one run takes: due again at once
        run.due.update((pk, now) for pk in [*stale, *(t.pk for t in fresh)])
    _hand_back(run)
    return run.due


def _fixed(now: dt.datetime) -> dt.datetime:
    return now


# --- calling the CSDs ------------------------------------------------------------------------------------


def _wire_leg(leg: Leg, transfer: Transfer) -> csd.Leg:
    return csd.Leg(
        leg_id=leg.leg_id,
        csd=leg.csd.code,
        isin=transfer.security.isin,
        quantity=leg.quantity,
        debit_account=leg.debit_account.number,
        credit_account=leg.credit_account.number,
        intended_settlement_date=transfer.intended_settlement_date,
        transfer_reference=f"T{transfer.pk}",
        face_amount=transfer.security.denomination == "FAMT",
    )


@dataclass
class _Answers:
    """What the CSDs said about a set of legs, sorted once for every step: the legs ``done`` (with their
    outcomes), each transfer's first permanent refusal, and when to try again the transfers that met a
    transient failure (their CSD unreachable, or one leg's answer transient)."""

    done: list[tuple[Leg, csd.LegOutcome]] = field(default_factory=list)
    refused: dict[int, tuple[Leg, csd.AdapterError]] = field(default_factory=dict)
    later: dict[int, dt.datetime] = field(default_factory=dict)
    # legs whose outcome the CSD has left unknown for SETTLEMENT_OUTCOME_UNKNOWN_ALERT_ATTEMPTS attempts
    unknown: list[tuple[Transfer, Leg, csd.AdapterError]] = field(default_factory=list)

    def stuck(self, run: _Run, operation: str) -> dict[int, dt.datetime]:
        """After the anchor (commit) or once aborting, a refusal cannot change the outcome: the transfer
        stays due, the refused leg shows why, and operations see it in the log."""
        _legs_refused(list(self.refused.values()))
        for transfer_id, (leg, exc) in self.refused.items():
            log.error(
                "transfer %s: %s refused the %s of %s (%s): %s",
                transfer_id,
                leg.csd.code,
                operation,
                leg.leg_id,
                exc.reason_code or type(exc).__name__,
                exc,
            )
        due = run.now + dt.timedelta(seconds=settings.SETTLEMENT_RETRY_CAP_SECONDS)
        return dict.fromkeys(self.refused, due)


# the state each operation takes a leg to at its CSD
_TARGET_STATES = {
    "prepare_many": csd.LegState.PREPARED,
    "commit_many": csd.LegState.COMMITTED,
    "abort_many": csd.LegState.ABORTED,
}


def _call_csds(
    run: _Run,
    operation: str,
    work: list[tuple[Transfer, Leg]],
    *,
    already_done: Callable[[Leg, csd.AdapterError], bool] | None = None,
    already_done_state: csd.LegState | None = None,
) -> _Answers:
    """One batch call per CSD (``prepare_many``, ``commit_many`` or ``abort_many``), the CSDs in parallel.
    No database transaction is open: the calls are network I/O. A refusal for which ``already_done(leg,
    error)`` holds means the leg is already in ``already_done_state`` (an abort of a leg the CSD closed)."""
    by_csd: dict[str, list[tuple[Transfer, Leg]]] = {}
    for transfer, leg in work:
        by_csd.setdefault(leg.csd.code, []).append((transfer, leg))
    adapters = {code: run.adapter_for(pairs[0][1].csd) for code, pairs in by_csd.items()}

    def call(code: str) -> list[csd.LegResult]:
        return getattr(adapters[code], operation)([_wire_leg(leg, t) for t, leg in by_csd[code]])

    futures = csd_calls_parallel({code: partial(call, code) for code in by_csd})
    target = _TARGET_STATES[operation]
    answers = _Answers()

    def later(transfer: Transfer, leg: Leg, exc: csd.AdapterError) -> None:
        answers.later[transfer.pk] = run.retry(transfer, exc)
        alert = settings.SETTLEMENT_OUTCOME_UNKNOWN_ALERT_ATTEMPTS
        if isinstance(exc, csd.OutcomeUnknown) and run.attempts[transfer.pk] >= alert:
            answers.unknown.append((transfer, leg, exc))

    for code, future in futures.items():
        try:
            results = future.result()
        except csd.AdapterError as exc:
            if exc.permanent:
                raise
            for transfer, leg in by_csd[code]:
                later(transfer, leg, exc)
            continue
        for (transfer, leg), result in zip(by_csd[code], results, strict=True):
            if result.leg_id != leg.leg_id:
                raise csd.ProtocolError(f"{code} answered for {result.leg_id} in place of {leg.leg_id}")
            outcome, error = result.outcome, result.error
            if outcome is not None and outcome.state != target:
                # the CSD holds another movement under this leg's id (a prepare answered COMMITTED, say):
                # its outcome is not this leg's, which stays as it was, refused
                error = csd.ProtocolError(
                    f"{code} answered the {operation.removesuffix('_many')} of {leg.leg_id} "
                    f"with a leg {outcome.state.value.lower()}"
                )
                outcome = None
            if outcome is not None:
                answers.done.append((leg, outcome))
            elif already_done is not None and already_done(leg, error):
                answers.done.append((leg, csd.LegOutcome(leg_id=leg.leg_id, state=already_done_state)))
            elif not error.permanent:
                later(transfer, leg, error)
            else:
                # a refusal other than lack of securities aborts at once: it outranks a LACK on another leg
                first = answers.refused.get(transfer.pk)
                lack_only = first is not None and first[1].reason_code == "LACK"
                if first is None or (lack_only and error.reason_code != "LACK"):
                    answers.refused[transfer.pk] = (leg, error)
    for transfer_id in answers.later:
        answers.refused.pop(transfer_id, None)  # a transfer to try again is not refused yet
    _outcomes_unknown(answers.unknown, operation.removesuffix("_many"))
    return answers


def _outcomes_unknown(unknown: list[tuple[Transfer, Leg, csd.AdapterError]], operation: str) -> None:
    """Legs whose CSD has answered ``SETTLEMENT_OUTCOME_UNKNOWN_ALERT_ATTEMPTS`` times in a row with
    something that says nothing sure of them (``OutcomeUnknown``: a reply about transactions never sent,
    say): they are still sent again, but this is no CSD that is simply down, so operations see it, in the
    log at ERROR and on the leg (OTHR until the CSD answers for it)."""
    if not unknown:
        return
    _legs_refused([(leg, exc) for _transfer, leg, exc in unknown])
    for transfer, leg, exc in unknown:
        log.error(
            "transfer %s: the outcome of the %s of %s at %s is still unknown after %d attempts: %s",
            transfer.pk,
            operation,
            leg.leg_id,
            leg.csd.code,
            transfer.attempts + 1,
            exc,
        )


def _legs_done(done: list[tuple[Leg, csd.LegOutcome]], *, to: str) -> None:
    """Record each leg's new status, compare-and-set on the status it had."""
    now = timezone.now()
    for was in sorted({leg.status for leg, _outcome in done}):
        of_status = [(leg, outcome) for leg, outcome in done if leg.status == was]
        values = {
            "status": to,
            "csd_reference": Each({leg.pk: (o.csd_reference or "")[:35] for leg, o in of_status}),
            "reason_code": "",
            "updated_at": now,
        }
        if to == LegStatus.COMMITTED:  # the date the CSD booked it on, which reconciliation compares
            values["settlement_date"] = Each({leg.pk: o.settlement_date for leg, o in of_status})
        rows_update(Leg, [leg.pk for leg, _outcome in of_status], values, status=was)
    for leg, outcome in done:
        leg.status = to
        if to == LegStatus.COMMITTED:
            leg.settlement_date = outcome.settlement_date


def _legs_refused(refused: list[tuple[Leg, csd.AdapterError]]) -> None:
    """Record on each leg the reason its CSD last refused it (LACK, BLOC ...)."""
    reasons = {leg.pk: (exc.reason_code or "OTHR")[:4] for leg, exc in refused}
    rows_update(Leg, [leg.pk for leg, _exc in refused], {"reason_code": Each(reasons)})
    for leg, _exc in refused:
        leg.reason_code = reasons[leg.pk]


def _leg_statuses(transfers: list[Transfer]) -> dict[int, set[str]]:
    statuses: dict[int, set[str]] = {t.pk: set() for t in transfers}
    for transfer_id, status in Leg.objects.filter(transfer_id__in=list(statuses)).values_list(
        "transfer_id", "status"
    ):
        statuses[transfer_id].add(status)
    return statuses


# --- the steps -------------------------------------------------------------------------------------------


_last_anchoring_request = 0.0


def request_anchoring() -> None:
    """Ask for the ledger to seal and endorse pending entries, then for committable transfers to go on.

    At most one request per process every ``SETTLEMENT_ANCHOR_BATCH_MILLISECONDS``: the task seals
    whatever is pending by then, so many transfers share one block and one round of endorsements (beat
    runs the same task every two seconds, so nothing waits on a request that was skipped)."""
    global _last_anchoring_request
    now = time.monotonic()
    if now - _last_anchoring_request < settings.SETTLEMENT_ANCHOR_BATCH_MILLISECONDS / 1000:
        return
    _last_anchoring_request = now
    from hub.settlement.tasks import transfers_anchor_and_release

    window = settings.SETTLEMENT_ANCHOR_BATCH_MILLISECONDS / 1000
    # a request still queued after a few seconds is stale (a later one, or beat's, does the same work):
    # it expires rather than pile up behind a busy queue
    transfers_anchor_and_release.apply_async(countdown=window, expires=window + ANCHOR_REQUEST_EXPIRES)


def _start_of_day(csd_row: CSD, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(csd_row.timezone)).astimezone(dt.UTC)


def _csds_of(transfer: Transfer) -> list[CSD]:
    """The CSDs a transfer's legs post at: the deliverer's, the receiver's and the issuer's."""
    found = {}
    for csd_row in (
        transfer.deliver.account.csd,
        transfer.receive.account.csd,
        transfer.security.issuer_csd,
    ):
        found.setdefault(csd_row.code, csd_row)
    return list(found.values())


def _not_before(transfer: Transfer, csds: list[CSD], now: dt.datetime) -> Due:
    """When the transfer may start, if not now: once its intended settlement date has begun at every CSD
    its legs post at (each in its own time zone, so that every leg is booked on that date); with
    ``SETTLEMENT_BUSINESS_DAYS_ONLY``, once that day is a business day at each of them; and with
    ``SETTLEMENT_CUTOFFS_ENFORCED``, not past the settlement cut-off of any of them (it waits for the
    next settlement day there)."""
    waits = []
    for csd_row in csds:
        local = csd_local_now(csd_row, now=now)
        today = local.date()
        if today < transfer.intended_settlement_date:
            waits.append(_start_of_day(csd_row, transfer.intended_settlement_date))
        elif settings.SETTLEMENT_BUSINESS_DAYS_ONLY and not csd_is_business_day(csd_row, today):
            waits.append(_start_of_day(csd_row, csd_business_day_add(csd_row, today, 1)))
        elif settings.SETTLEMENT_CUTOFFS_ENFORCED and local.time() >= csd_row.settlement_cutoff:
            next_day = (
                csd_business_day_add(csd_row, today, 1)
                if settings.SETTLEMENT_BUSINESS_DAYS_ONLY
                else today + dt.timedelta(days=1)
            )
            waits.append(_start_of_day(csd_row, next_day))
    return max(waits) if waits else None


def _day_closed(transfer: Transfer, csds: Iterable[CSD], now: dt.datetime) -> str | None:
    """Why a transfer that has started may no longer be reserved or anchored at ``now``, if it may not: the
    rules ``_not_before`` starts it under hold until its commit decision is anchored. With
    ``SETTLEMENT_BUSINESS_DAYS_ONLY``, every CSD its legs post at must still be in the business day the
    transfer started on there (a leg reserved before a CSD's close is not booked after it, at a weekend
    say); with ``SETTLEMENT_CUTOFFS_ENFORCED``, none may be past its settlement cut-off (nor, then, in a later
    day than the one it started on)."""
    days_only = settings.SETTLEMENT_BUSINESS_DAYS_ONLY
    cutoffs = settings.SETTLEMENT_CUTOFFS_ENFORCED
    if not (days_only or cutoffs):
        return None
    for csd_row in csds:
        local = csd_local_now(csd_row, now=now)
        started = csd_local_now(csd_row, now=transfer.started_at).date() if transfer.started_at else None
        if started is not None and local.date() != started:
            return f"{csd_row.code}: the business day settlement started on ({started}) has closed"
        if days_only and not csd_is_business_day(csd_row, local.date()):
            return f"{csd_row.code}: {local.date()} is not a business day"
        if cutoffs and local.time() >= csd_row.settlement_cutoff:
            return f"{csd_row.code}: past its settlement cut-off ({csd_row.settlement_cutoff:%H:%M})"
    return None


def _leg_csds(legs: list[Leg]) -> list[CSD]:
    found: dict[str, CSD] = {}
    for leg in legs:
        found.setdefault(leg.csd.code, leg.csd)
    return list(found.values())


def _lacks(legs: list[Leg]) -> bool:
    """Whether a leg still waits for securities its CSD refused for lack of them."""
    return any(leg.status == LegStatus.PENDING and leg.reason_code == "LACK" for leg in legs)


def _may_not_go_on(
    transfers: list[Transfer], legs: dict[int, list[Leg]], now: dt.datetime, suspended: dict[str, set[str]]
) -> dict[int, tuple[str, str]]:
    """Of transfers settling (PREPARING), those that may not go on at ``now``, each with the reason and the
    detail it fails with: a CSD its legs post at has closed the day it started on or is past its cut-off
    (``_day_closed``: LACK if a leg still waits for securities, else LATE, the market deadline missed), or
    reconciliation has suspended the ISIN at one of them (SUSP), as ``suspended`` says (the CSDs each
    suspended ISIN is suspended at: ``isins_suspended_csds``, read once for the batch)."""
    stopped: dict[int, tuple[str, str]] = {}
    for transfer in transfers:
        csds = _leg_csds(legs[transfer.pk])
        closed = _day_closed(transfer, csds, now)
        if closed is not None:
            stopped[transfer.pk] = ("LACK" if _lacks(legs[transfer.pk]) else "LATE", closed)
            continue
        at = sorted(suspended.get(transfer.security.isin, set()) & {csd_row.code for csd_row in csds})
        if at:
            stopped[transfer.pk] = (
                "SUSP",
                f"{', '.join(at)}: ISIN suspended from settlement by a reconciliation break",
            )
    return stopped


def _aborts_begin(transfers: list[Transfer], why: dict[int, tuple[str, str]]) -> None:
    """PREPARING -> ABORTING, each transfer in its own transaction with its own reason; one another run
    has moved meanwhile is left as this run read it (the next round reads it again)."""
    for transfer in transfers:
        reason, detail = why[transfer.pk]
        try:
            with transaction.atomic():
                _abort_begin(transfer, reason=reason, detail=detail)
        except StatusConflict:
            _reread(transfer, TransferStatus.PREPARING)


def _start(group: list[Transfer], legs: dict[int, list[Leg]], run: _Run) -> dict[int, Due | str]:
    answers: dict[int, Due | str] = {}
    due = []
    for transfer in group:
        csds = _csds_of(transfer)
        wait = _not_before(transfer, csds, run.now)
        if wait is not None:
            answers[transfer.pk] = wait
        else:
            due.append((transfer, csds))
    suspended = isins_suspended_csds({transfer.security.isin for transfer, _csds in due}, now=run.now)
    recheck = run.now + dt.timedelta(seconds=settings.SETTLEMENT_SUSPENSION_RECHECK_SECONDS)
    ready, waiting = [], []
    held: dict[tuple[str, ...], list[Transfer]] = defaultdict(list)
    for transfer, csds in due:
        closed = tuple(csd_row.code for csd_row in csds if csd_row.status == CSDStatus.SUSPENDED)
        if closed:
            # a CSD its operations have suspended from the hub starts no new transfer; those already
            # settling there finish. The transfer waits (it does not fail) until the CSD is active again
            held[closed].append(transfer)
            answers[transfer.pk] = recheck
        elif suspended.get(transfer.security.isin, set()) & {csd_row.code for csd_row in csds}:
            # CSDR RTS 2017/392 art. 65: an unresolved reconciliation break suspends the issue; the
            # transfer waits (it does not fail) until the break is resolved
            waiting.append(transfer)
            answers[transfer.pk] = recheck
        else:
            ready.append(transfer)
    _pending(
        waiting, reason="SUSP", code="OTHR", why="ISIN suspended from settlement by a reconciliation break"
    )
    for codes, transfers in held.items():
        _pending(transfers, reason="CSDS", code="OTHR", why=f"{', '.join(codes)} suspended from the hub")
    with transaction.atomic():
        moved = transfers_status_set(
            transfers=ready,
            to=TransferStatus.PREPARING,
            cause="settlement date reached",
            actor=SYSTEM,
            started_at=run.now,
        )
        # a cancellation one side asked for while matched can no longer be: its requester is told so
        cancellations_deny(transfers=moved, reason="DPRG", narrative="settlement has started")
        new_legs = []
        if moved and run.link_accounts is None:
            run.link_accounts = link_accounts_load()
        for transfer in moved:
            try:
                plans = legs_plan(transfer, known=run.link_accounts)
            except MissingLinkAccount as exc:
                _abort_begin(transfer, reason="OTHR", detail=exc.message)
                continue
            leg_ids = leg_ids_new(transfer.pk, [plan.position for plan in plans])
            new_legs += [
                model_new(
                    Leg,
                    transfer=transfer,
                    position=plan.position,
                    leg_id=leg_ids[plan.position],
                    csd=plan.csd,
                    security=transfer.security,
                    quantity=plan.quantity,
                    debit_account=plan.debit,
                    credit_account=plan.credit,
                )
                for plan in plans
            ]
        for leg in rows_insert(new_legs):
            legs[leg.transfer_id].append(leg)
    return answers


def _prepare(group: list[Transfer], legs: dict[int, list[Leg]], run: _Run) -> dict[int, Due | str]:
    answers: dict[int, Due | str] = {}
    # the rules the transfer started under hold until the anchor: a transfer whose CSD has closed its day
    # (a lack recycled past one CSD's cut-off, a CSD down until the weekend) or whose ISIN reconciliation
    # has suspended since is reserved no further, and fails with everything reserved released. The
    # suspensions are read once for the batch, before the CSDs are called
    suspended = isins_suspended_csds({transfer.security.isin for transfer in group}, now=run.now)
    stopped = _may_not_go_on(group, legs, run.now, suspended)
    _aborts_begin([t for t in group if t.pk in stopped], stopped)
    answers.update(dict.fromkeys(stopped, CONTINUE))
    going = [t for t in group if t.pk not in stopped]
    work = [(t, leg) for t in going for leg in legs[t.pk] if leg.status == LegStatus.PENDING]
    said = _call_csds(run, "prepare_many", work)
    answers.update(said.later)
    _legs_done(said.done, to=LegStatus.PREPARED)
    _legs_refused(list(said.refused.values()))
    lacking, refused = [], {}
    for transfer in going:
        if transfer.pk not in said.refused:
            continue
        leg, exc = said.refused[transfer.pk]
        # a lack is recycled while every CSD the transfer posts at is before its cut-off: past any one's,
        # the transfer could no longer be booked on the same day everywhere
        if exc.reason_code == "LACK" and not any(
            csd_is_past_cutoff(csd_row, now=run.now) for csd_row in _leg_csds(legs[transfer.pk])
        ):
            lacking.append(transfer)
            answers[transfer.pk] = run.now + dt.timedelta(seconds=settings.SETTLEMENT_LACK_RECYCLE_SECONDS)
            continue
        refused[transfer.pk] = (exc.reason_code or "OTHR", f"{leg.csd.code}: {exc}")
        answers[transfer.pk] = CONTINUE
    _aborts_begin([t for t in going if t.pk in refused], refused)
    # only the delivering side can lack securities: its counterparty is told so (CLAC), not that it lacks
    _pending(lacking, reason="LACK", code="LACK", receiver_code="CLAC")
    # the CSDs' answers took a while: the day may have closed meanwhile (a suspension is a matter of days,
    # found by a reconciliation run: the one read before the calls stands)
    candidates = [t for t in going if t.pk not in answers]
    stopped = _may_not_go_on(candidates, legs, run.clock(), suspended)
    _aborts_begin([t for t in candidates if t.pk in stopped], stopped)
    answers.update(dict.fromkeys(stopped, CONTINUE))
    candidates = [t for t in candidates if t.pk not in stopped]
    with transaction.atomic():
        statuses = _leg_statuses(candidates)
        # an overlapping run still preparing leaves a leg PENDING: those transfers are looked at again
        complete = _still_in(
            [t for t in candidates if statuses[t.pk] == {LegStatus.PREPARED}], TransferStatus.PREPARING
        )
        # the rows are locked in their status: each COMMIT entry is appended for a transfer that moves, and
        # the move writes its id in the same row version
        entry_ids = entries_append(
            drafts=[
                EntryDraft(
                    kind=Entry.Kind.COMMIT,
                    reference=f"transfer:{t.pk}",
                    csds=tuple(sorted({leg.csd.code for leg in legs[t.pk]})),
                    record=commit_record(t, legs[t.pk]),
                )
                for t in complete
            ]
        )
        # a commit decision just appended is not final yet: each moved transfer is handed back in the
        # same write, due when the ledger is next checked (the ledger task releases it sooner)
        recheck = run.now + dt.timedelta(seconds=settings.SETTLEMENT_LEDGER_RECHECK_SECONDS)
        moved = transfers_status_set(
            transfers=complete,
            to=TransferStatus.PREPARED,
            cause="commit decision anchored on the shared ledger",
            actor=SYSTEM,
            pending_reason="",
            commit_entry_id=Each({t.pk: entry_id for t, entry_id in zip(complete, entry_ids, strict=True)}),
            due_at=recheck,
            attempts=0,
        )
        if len(moved) != len(complete):
            raise StatusConflict("a transfer locked in PREPARING did not move to PREPARED")
        if moved:
            transaction.on_commit(request_anchoring)
    run.closed.update(t.pk for t in moved)  # once committed: a rolled-back write handed nothing back
    answers.update((t.pk, recheck) for t in moved)
    return answers


def commit_record(transfer: Transfer, legs: list[Leg]) -> dict:
    """What the COMMIT entry attests: the transfer, both instructions and every leg."""
    return {
        "transfer": transfer.pk,
        "isin": transfer.security.isin,
        "quantity": transfer.quantity,
        "intended_settlement_date": transfer.intended_settlement_date.isoformat(),
        "deliver": {
            "participant": transfer.deliver.participant.bic,
            "transaction_id": transfer.deliver.transaction_id,
        },
        "receive": {
            "participant": transfer.receive.participant.bic,
            "transaction_id": transfer.receive.transaction_id,
        },
        "legs": [
            {
                "leg": leg.leg_id,
                "csd": leg.csd.code,
                "debit": leg.debit_account.number,
                "credit": leg.credit_account.number,
                "quantity": leg.quantity,
            }
            for leg in legs
        ],
    }


def _pending(
    transfers: list[Transfer], *, reason: str, code: str, receiver_code: str | None = None, why: str = ""
) -> None:
    """Tell both participants of each transfer, once, why settlement waits (sese.024 pending with ISO
    ``code``, or ``receiver_code`` to the receiving side when it is told otherwise); ``reason`` is what the
    transfer records (LACK, SUSP). A transfer that already waits for the same reason is told nothing
    again."""
    if not transfers:
        return
    marks = ", ".join(["%s"] * len(transfers))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE settlement_transfer SET pending_reason = %s "  # noqa: S608 (placeholders only)
                f"WHERE id IN ({marks}) AND pending_reason <> %s RETURNING id",
                [reason, *(t.pk for t in transfers), reason],
            )
            told = {row[0] for row in cursor.fetchall()}
        outbound_enqueue_many(
            messages=[
                Outgoing(
                    participant=instruction.participant,
                    body=notifications.pending(
                        instruction,
                        reason=receiver_code if receiver_code and instruction.side == Side.RECEIVE else code,
                        why=why,
                    ),
                    transaction_id=instruction.transaction_id,
                    status="PENDING",
                )
                for transfer in transfers
                if transfer.pk in told
                for instruction in in_lock_order(transfer.deliver, transfer.receive)
            ]
        )


def _still_in(transfers: list[Transfer], status: str) -> list[Transfer]:
    """Those of ``transfers`` still in ``status``, locked in it until the transaction ends (another actor,
    a cancellation say, may have moved one since the run read it)."""
    if not transfers:
        return []
    locked = set(
        Transfer.objects.select_for_update()
        .filter(pk__in=[t.pk for t in transfers], status=status)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return [t for t in transfers if t.pk in locked]


def _final_entries(entry_ids: list[int]) -> set[int]:
    """Of these COMMIT entries, those sealed in a block that every CSD the entry names has endorsed."""
    entries = list(
        Entry.objects.filter(pk__in=entry_ids, block__isnull=False).values_list("pk", "block_id", "csds")
    )
    endorsed: dict[int, set[str]] = {}
    for block_id, code in Endorsement.objects.filter(block_id__in={b for _e, b, _c in entries}).values_list(
        "block_id", "csd"
    ):
        endorsed.setdefault(block_id, set()).add(code)
    return {pk for pk, block_id, csds in entries if set(csds.split(",")) <= endorsed.get(block_id, set())}


def transfers_release_committable(*, now: dt.datetime | None = None) -> list[int]:
    """Make due now every PREPARED transfer whose commit decision has become final, and return their ids.

    Called once the ledger has sealed and endorsed: one pass releases the whole batch, so transfers do not
    each poll the ledger while they wait."""
    now = now or timezone.now()
    # a transfer already released (due now, its task in the queue) is not released again
    waiting = dict(
        Transfer.objects.filter(status=TransferStatus.PREPARED, due_at__gt=now).values_list(
            "pk", "commit_entry_id"
        )
    )
    final = _final_entries([entry for entry in waiting.values() if entry])
    ready = [pk for pk, entry in waiting.items() if entry in final]
    if ready:
        Transfer.objects.filter(pk__in=ready, status=TransferStatus.PREPARED).update(due_at=now)
    return ready


def _decide(group: list[Transfer], legs: dict[int, list[Leg]], run: _Run) -> dict[int, Due | str]:
    """PREPARED: go on to commit the transfers whose commit decision is final (sealed and endorsed)."""
    final = _final_entries([t.commit_entry_id for t in group if t.commit_entry_id])
    answers: dict[int, Due | str] = {}
    waiting = [t for t in group if t.commit_entry_id not in final]
    if waiting:
        # the ledger task releases them as soon as their block is endorsed; this is only the safety net
        request_anchoring()
        recheck = run.now + dt.timedelta(seconds=settings.SETTLEMENT_LEDGER_RECHECK_SECONDS)
        answers.update((t.pk, recheck) for t in waiting)
    with transaction.atomic():
        transfers_status_set(
            transfers=[t for t in group if t.commit_entry_id in final],
            to=TransferStatus.COMMITTING,
            cause="commit decision final",
            actor=SYSTEM,
        )
    return answers


def _commit(group: list[Transfer], legs: dict[int, list[Leg]], run: _Run) -> dict[int, Due | str]:
    work = [(t, leg) for t in group for leg in legs[t.pk] if leg.status == LegStatus.PREPARED]
    said = _call_csds(run, "commit_many", work)
    _legs_done(said.done, to=LegStatus.COMMITTED)
    answers: dict[int, Due | str] = {**said.later, **said.stuck(run, "commit")}
    candidates = [t for t in group if t.pk not in answers]
    # read once the CSDs have answered, not the run's claim time: reconciliation expects on a statement
    # only the legs of transfers settled by the time it was asked for
    settled_at = run.clock()
    with transaction.atomic():
        statuses = _leg_statuses(candidates)
        settled = transfers_status_set(
            transfers=[t for t in candidates if statuses[t.pk] == {LegStatus.COMMITTED}],
            to=TransferStatus.SETTLED,
            cause="every leg posted",
            actor=SYSTEM,
            settled_at=settled_at,
            **_HANDED_BACK,
        )
        entries_append(
            drafts=[
                EntryDraft(
                    kind=Entry.Kind.SETTLED,
                    reference=f"transfer:{t.pk}",
                    csds=tuple(sorted({leg.csd.code for leg in legs[t.pk]})),
                    record={
                        "transfer": t.pk,
                        "commit_entry": t.commit_entry_id,
                        "settled_at": settled_at.isoformat(),
                    },
                )
                for t in settled
            ]
        )
        closed = _instructions_close(
            [i for t in settled for i in (t.deliver, t.receive)],
            to=InstructionStatus.SETTLED,
            cause="its transfer settled",
        )
        cancellations_deny(transfers=settled, reason="DSET", narrative="instruction is settled")
        outbound_enqueue_many(
            messages=[
                Outgoing(
                    participant=i.participant,
                    body=notifications.confirmation(i, settled_on=_booked_on(i, legs[i.transfer_id], run)),
                    transaction_id=i.transaction_id,
                    status=InstructionStatus.SETTLED,
                )
                for i in closed
            ]
        )
        if settled:
            ledger_seal_request()
            _lacking_recycle(
                credited={
                    (leg.csd_id, leg.credit_account_id, leg.security_id)
                    for t in settled
                    for leg in legs[t.pk]
                },
                now=run.now,
            )
    run.closed.update(t.pk for t in settled)  # once committed: a rolled-back write handed nothing back
    answers.update((t.pk, None) for t in settled)
    return answers


def _booked_on(instruction: Instruction, legs: list[Leg], run: _Run) -> dt.date:
    """The date the participant's own leg was booked on at its CSD, as the CSD confirmed it: the debit of
    the deliverer's account, the credit of the receiver's. The legs of one transfer may post on different
    days (a commit retried past midnight), and each participant reconciles its confirmation against its own
    CSD's statement. A leg confirmed without a date (or recorded before dates were kept) falls back to the
    business date of the participant's CSD now."""
    deliver = instruction.side == Side.DELIVER
    for leg in legs:
        account_id = leg.debit_account_id if deliver else leg.credit_account_id
        if leg.csd_id == instruction.csd_id and account_id == instruction.account_id and leg.settlement_date:
            return leg.settlement_date
    return csd_local_now(instruction.csd, now=run.now).date()


def _lacking_recycle(*, credited: set[tuple[int, int, int]], now: dt.datetime) -> None:
    """Recycle at once the transfers lacking securities on a position these postings have just credited
    (CSD, account, security), as T2S re-attempts pending instructions when the resources they lack
    arrive, rather than leaving them to their next timed attempt."""
    if not credited:
        return
    positions = sorted(credited)
    with connection.cursor() as cursor:
        cursor.execute(
            # placeholders only; the partial index leg_lacking holds just the legs waiting for securities
            "SELECT DISTINCT leg.transfer_id FROM settlement_leg leg "  # noqa: S608
            "JOIN settlement_transfer transfer ON transfer.id = leg.transfer_id "
            "WHERE leg.status = %s AND leg.reason_code = 'LACK' "
            "AND transfer.status = %s AND transfer.pending_reason = 'LACK' "
            "AND (leg.csd_id, leg.debit_account_id, leg.security_id) IN "
            f"({', '.join(['(%s, %s, %s)'] * len(positions))}) ORDER BY leg.transfer_id",
            [
                LegStatus.PENDING,
                TransferStatus.PREPARING,
                *(part for position in positions for part in position),
            ],
        )
        lacking = [row[0] for row in cursor.fetchall()]
    if not lacking:
        return
    # only transfers waiting for their next attempt: one a run holds has a lease, which lasts longer
    # (and were a lease broken, the steps' compare-and-set and the CSDs' idempotency would still hold)
    next_attempt = now + dt.timedelta(seconds=settings.SETTLEMENT_LACK_RECYCLE_SECONDS)
    Transfer.objects.filter(
        pk__in=lacking, status=TransferStatus.PREPARING, due_at__gt=now, due_at__lte=next_attempt
    ).update(due_at=now)

    def enqueue() -> None:
        from hub.settlement.tasks import batches, transfers_advance

        for chunk in batches(lacking):
            transfers_advance.delay(chunk)

    transaction.on_commit(enqueue, robust=True)


def _instructions_close(instructions: list[Instruction], *, to: str, cause: str) -> list[Instruction]:
    """Move the instructions of finished transfers to ``to``, reading their current status first."""
    current = dict(
        Instruction.objects.filter(pk__in=[i.pk for i in instructions]).values_list("pk", "status")
    )
    for instruction in instructions:
        instruction.status = current[instruction.pk]
    return instructions_status_set(
        instructions=sorted(instructions, key=lambda i: i.pk), to=to, cause=cause, actor=SYSTEM
    )


def _abort_begin(transfer: Transfer, *, reason: str, detail: str) -> None:
    transfer_status_set(
        transfer=transfer, to=TransferStatus.ABORTING, cause=detail, actor=SYSTEM, reason_code=reason[:4]
    )
    Transfer.objects.filter(pk=transfer.pk).update(failure_reason=reason[:4], failure_detail=detail[:200])
    transfer.failure_reason, transfer.failure_detail = reason[:4], detail[:200]


# refusals of a release that say the CSD holds no reservation for a leg it never confirmed reserving: the
# account or the security is unknown there, or the leg cannot be written in its standard (so its prepare
# was never sent either), and nothing can have been earmarked on it. Not REFE (LegConflict): a leg is
# PENDING at the hub yet reserved at its CSD exactly when the prepare's reply was lost, and a CSD may refuse
# the release for its reference (a reference it holds already, that reservation's) though it holds the
# securities blocked; such a transfer stays ABORTING, its leg showing REFE, logged at ERROR, for operations
_NOTHING_RESERVED = (csd.UnknownAccount, csd.UnknownSecurity, csd.LegNotExpressible)


def _released(leg: Leg, refusal: csd.AdapterError) -> bool:
    """Whether a CSD's refusal of a leg's release means the leg holds nothing there: the CSD closed it
    already, or (for a leg it never confirmed reserving) it cannot hold a reservation of it at all. A
    reserved leg whose release is refused stays to be released, whatever the reason."""
    if isinstance(refusal, csd.LegAborted):
        return True
    return leg.status == LegStatus.PENDING and isinstance(refusal, _NOTHING_RESERVED)


def _abort(group: list[Transfer], legs: dict[int, list[Leg]], run: _Run) -> dict[int, Due | str]:
    work = [
        (t, leg) for t in group for leg in legs[t.pk] if leg.status in (LegStatus.PENDING, LegStatus.PREPARED)
    ]
    said = _call_csds(
        run, "abort_many", work, already_done=_released, already_done_state=csd.LegState.ABORTED
    )
    _legs_done(said.done, to=LegStatus.ABORTED)
    answers: dict[int, Due | str] = {**said.later, **said.stuck(run, "abort")}
    candidates = [t for t in group if t.pk not in answers]
    statuses = _leg_statuses(candidates)
    for transfer in candidates:
        if statuses[transfer.pk] - {LegStatus.ABORTED}:
            continue
        # failures are few: each is closed in its own transaction, with its own reason
        try:
            _fail(transfer, legs[transfer.pk])
        except StatusConflict:
            _reread(transfer, TransferStatus.ABORTING)
            continue
        run.closed.add(transfer.pk)
        answers[transfer.pk] = None
    return answers


def _reread(transfer: Transfer, status: str) -> None:
    """After a status write that found the transfer moved by another run (two runs overlap when a lease
    lapses): the transfer as this run read it, so that the next round reads it again rather than take
    the rolled-back write's status for its own; the rest of the batch goes on."""
    transfer.status = status


def _fail(transfer: Transfer, legs: list[Leg]) -> None:
    """ABORTING -> FAILED once every leg is released: the ABORT entry, and both instructions failed."""
    with transaction.atomic():
        transfer_status_set(
            transfer=transfer,
            to=TransferStatus.FAILED,
            cause="every leg released",
            actor=SYSTEM,
            reason_code=transfer.failure_reason,
            **_HANDED_BACK,
        )
        csds = {leg.csd.code for leg in legs} or {
            transfer.deliver.csd.code,
            transfer.receive.csd.code,
        }
        entry_append(
            kind=Entry.Kind.ABORT,
            reference=f"transfer:{transfer.pk}",
            csds=sorted(csds),
            record={
                "transfer": transfer.pk,
                "reason": transfer.failure_reason,
                "legs": [leg.leg_id for leg in legs],
            },
        )
        for instruction in in_lock_order(transfer.deliver, transfer.receive):
            instruction.refresh_from_db(fields=["status"])
            instruction_status_set(
                instruction=instruction,
                to=InstructionStatus.FAILED,
                cause=transfer.failure_detail or "failed",
                actor=SYSTEM,
            )
            notifications.notify(
                instruction,
                notifications.failed(
                    instruction, reason=transfer.failure_reason, why=transfer.failure_detail
                ),
                status=InstructionStatus.FAILED,
            )
        cancellations_deny(transfers=[transfer], reason="OTHR", narrative="instruction is failed")
        ledger_seal_request()


_STEPS = {
    TransferStatus.MATCHED: _start,
    TransferStatus.PREPARING: _prepare,
    TransferStatus.PREPARED: _decide,
    TransferStatus.COMMITTING: _commit,
    TransferStatus.ABORTING: _abort,
}
