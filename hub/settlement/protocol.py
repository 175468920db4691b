"""The cross-CSD settlement protocol (ARCHITECTURE.md §4): prepare every leg -> anchor the commit decision
on the shared ledger -> commit every leg; abort only before the anchor, roll forward after it.

``transfer_advance`` is the one entry point. It claims the transfer with a conditional UPDATE of its due
time (a lease), runs the protocol as far as it can go now, and hands the transfer back with the time it is
next due. Every call to a CSD happens outside any database transaction and is idempotent on the leg id,
so a run that dies anywhere is simply run again by the sweeper once its lease lapses. Each step writes its
outcome with a compare-and-set, so two runs that overlap never apply a step twice.

- MATCHED: waits for the intended settlement date in the deliverer's CSD time zone (and a business day of
  its calendar when ``SETTLEMENT_BUSINESS_DAYS_ONLY``), then plans the legs and moves to PREPARING.
- PREPARING: reserves each leg. Lack of securities is recycled until the CSD's cut-off (participants get a
  pending status with LACK), then the transfer aborts; any other refusal aborts at once.
- PREPARING -> PREPARED: once every leg is reserved, the COMMIT entry is appended to the shared ledger in
  the same transaction. That is the point of no return.
- PREPARED -> COMMITTING: once the COMMIT entry sits in a sealed block endorsed by every CSD involved.
- COMMITTING -> SETTLED: every leg posted; a SETTLED entry, confirmations to both participants.
- ABORTING -> FAILED: every leg released; an ABORT entry, a failure status to both participants.

Transient CSD failures (unreachable, timeout) are retried with exponential backoff, jitter and a cap.
"""

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from csd_adapters import base as csd
from hub.ledger.models import Endorsement, Entry
from hub.ledger.services import entry_append, ledger_seal_request
from hub.reconciliation.selectors import isin_suspended
from hub.registry.calendars import (
    csd_business_day_add,
    csd_is_business_day,
    csd_is_past_cutoff,
    csd_local_now,
)
from hub.registry.models import CSD
from hub.settlement import errors, notifications
from hub.settlement.legs import MissingLinkAccount, legs_plan
from hub.settlement.models import Instruction, Leg, LegStatus, Transfer
from hub.settlement.services import SYSTEM, in_lock_order, instruction_status_set, transfer_status_set
from hub.settlement.statuses import TERMINAL_TRANSFER, InstructionStatus, TransferStatus

log = logging.getLogger(__name__)

AdapterFor = Callable[[CSD], csd.CsdAdapter]
CONTINUE = None  # a step's answer when the transfer moved on and the run should go on


def _default_adapter(csd_row: CSD) -> csd.CsdAdapter:
    from hub.registry.adapters import csd_adapter

    return csd_adapter(csd_row)


# --- claiming and handing back ---------------------------------------------------------------------------


def transfer_claim(*, transfer_id: int, now: dt.datetime) -> Transfer | None:
    """Take the transfer for one run if it is due; None if it is not due or another run holds it."""
    lease_until = now + dt.timedelta(seconds=settings.SETTLEMENT_LEASE_SECONDS)
    claimed = (
        Transfer.objects.filter(pk=transfer_id, due_at__lte=now)
        .exclude(status__in=TERMINAL_TRANSFER)
        .update(due_at=lease_until)
    )
    if not claimed:
        return None
    return _load(transfer_id)


def _load(transfer_id: int) -> Transfer:
    return Transfer.objects.select_related(
        "security__issuer_csd",
        "deliver__participant",
        "deliver__account__csd",
        "deliver__security",
        "deliver__counterparty_csd",
        "receive__participant",
        "receive__account__csd",
        "receive__security",
        "receive__counterparty_csd",
    ).get(pk=transfer_id)


def _hand_back(transfer: Transfer, *, due_at: dt.datetime | None, attempts: int = 0) -> None:
    Transfer.objects.filter(pk=transfer.pk).update(
        due_at=due_at, attempts=attempts, updated_at=timezone.now()
    )


def transfer_advance(
    *, transfer_id: int, adapter_for: AdapterFor | None = None, now: dt.datetime | None = None
) -> dt.datetime | None:
    """Run the protocol for one transfer as far as it goes now. Returns when the transfer is next due
    (None when it is terminal, or when it was not due or is held by another run)."""
    now = now or timezone.now()
    transfer = transfer_claim(transfer_id=transfer_id, now=now)
    if transfer is None:
        return None
    adapter_for = adapter_for or _default_adapter
    try:
        for _round in range(12):
            if transfer.status in TERMINAL_TRANSFER:
                _hand_back(transfer, due_at=None)
                return None
            try:
                due = _STEPS[transfer.status](transfer, adapter_for, now)
            except errors.StatusConflict:
                due = CONTINUE  # another actor moved it (a cancellation, an overlapping run): look again
            if due is not CONTINUE:
                _hand_back(transfer, due_at=due)
                return due
            transfer = _load(transfer.pk)
        _hand_back(transfer, due_at=now)
        return now
    except (csd.AdapterError, OperationalError) as exc:
        if isinstance(exc, csd.AdapterError) and exc.permanent:
            raise
        # a CSD that cannot be reached now, or the database choosing this run as a deadlock's victim
        attempts = transfer.attempts + 1
        ceiling = min(
            settings.SETTLEMENT_RETRY_CAP_SECONDS,
            settings.SETTLEMENT_RETRY_BASE_SECONDS * 2 ** (attempts - 1),
        )
        due = now + dt.timedelta(seconds=random.uniform(ceiling / 2, ceiling))
        log.warning("transfer %s: CSD unavailable (%s); retry %d at %s", transfer.pk, exc, attempts, due)
        _hand_back(transfer, due_at=due, attempts=attempts)
        return due


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

    transfers_anchor_and_release.apply_async(countdown=settings.SETTLEMENT_ANCHOR_BATCH_MILLISECONDS / 1000)


def _start_of_day(csd_row: CSD, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(csd_row.timezone)).astimezone(dt.UTC)


def _start(transfer: Transfer, adapter_for: AdapterFor, now: dt.datetime):
    deliverer_csd = transfer.deliver.account.csd
    today = csd_local_now(deliverer_csd, now=now).date()
    if today < transfer.intended_settlement_date:
        return _start_of_day(deliverer_csd, transfer.intended_settlement_date)
    if settings.SETTLEMENT_BUSINESS_DAYS_ONLY and not csd_is_business_day(deliverer_csd, today):
        return _start_of_day(deliverer_csd, csd_business_day_add(deliverer_csd, today, 1))
    involved = {deliverer_csd.code, transfer.receive.account.csd.code, transfer.security.issuer_csd.code}
    if isin_suspended(transfer.security.isin, csd_codes=involved, now=now):
        # CSDR RTS 2017/392 art. 65: an unresolved reconciliation break suspends the issue; the transfer
        # waits (it does not fail) until the break is resolved
        _pending(
            transfer,
            reason="SUSP",
            code="OTHR",
            why="ISIN suspended from settlement by a reconciliation break",
        )
        return now + dt.timedelta(seconds=settings.SETTLEMENT_SUSPENSION_RECHECK_SECONDS)
    with transaction.atomic():
        transfer_status_set(
            transfer=transfer, to=TransferStatus.PREPARING, cause="settlement date reached", actor=SYSTEM
        )
        try:
            plans = legs_plan(transfer)
        except MissingLinkAccount as exc:
            _abort_begin(transfer, reason="OTHR", detail=exc.message)
            return CONTINUE
        Leg.objects.bulk_create(
            [
                Leg(
                    transfer=transfer,
                    position=plan.position,
                    leg_id=f"T{transfer.pk}L{plan.position}",
                    csd=plan.csd,
                    security=transfer.security,
                    quantity=plan.quantity,
                    debit_account=plan.debit,
                    credit_account=plan.credit,
                )
                for plan in plans
            ]
        )
    return CONTINUE


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


def _legs(transfer: Transfer, *statuses: str) -> list[Leg]:
    return list(
        Leg.objects.filter(transfer=transfer, status__in=statuses)
        .select_related("csd", "debit_account", "credit_account")
        .order_by("position")
    )


def _leg_done(leg: Leg, *, was: str, to: str, outcome: csd.LegOutcome) -> None:
    Leg.objects.filter(pk=leg.pk, status=was).update(
        status=to, csd_reference=(outcome.csd_reference or "")[:35], reason_code="", updated_at=timezone.now()
    )


def _prepare(transfer: Transfer, adapter_for: AdapterFor, now: dt.datetime):
    for leg in _legs(transfer, LegStatus.PENDING):
        try:
            outcome = adapter_for(leg.csd).prepare(_wire_leg(leg, transfer))
        except csd.AdapterError as exc:
            if not exc.permanent:
                raise
            Leg.objects.filter(pk=leg.pk).update(reason_code=(exc.reason_code or "OTHR")[:4])
            if exc.reason_code == "LACK" and not csd_is_past_cutoff(leg.csd, now=now):
                _pending(transfer, reason="LACK", code="LACK")
                return now + dt.timedelta(seconds=settings.SETTLEMENT_LACK_RECYCLE_SECONDS)
            with transaction.atomic():
                _abort_begin(transfer, reason=exc.reason_code or "OTHR", detail=f"{leg.csd.code}: {exc}")
            return CONTINUE
        _leg_done(leg, was=LegStatus.PENDING, to=LegStatus.PREPARED, outcome=outcome)
    with transaction.atomic():
        legs = _legs(transfer, LegStatus.PREPARED, LegStatus.PENDING)
        if any(leg.status != LegStatus.PREPARED for leg in legs):
            return CONTINUE  # an overlapping run is still preparing: look again
        entry = entry_append(
            kind=Entry.Kind.COMMIT,
            reference=f"transfer:{transfer.pk}",
            csds=sorted({leg.csd.code for leg in legs}),
            record=commit_record(transfer, legs),
        )
        transfer_status_set(
            transfer=transfer, to=TransferStatus.PREPARED, cause=f"anchored as entry {entry.pk}", actor=SYSTEM
        )
        Transfer.objects.filter(pk=transfer.pk).update(commit_entry_id=entry.pk, pending_reason="")
        transaction.on_commit(request_anchoring)
    return CONTINUE


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


def _pending(transfer: Transfer, *, reason: str, code: str, why: str = "") -> None:
    """Tell both participants once why settlement waits (sese.024 pending with ISO ``code``); ``reason``
    is what the transfer records (LACK, SUSP)."""
    with transaction.atomic():
        changed = (
            Transfer.objects.filter(pk=transfer.pk)
            .exclude(pending_reason=reason)
            .update(pending_reason=reason)
        )
        if not changed:
            return
        for instruction in in_lock_order(transfer.deliver, transfer.receive):
            advice = notifications.pending(instruction, reason=code, why=why)
            notifications.notify(instruction, advice, status="PENDING")


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
    waiting = dict(
        Transfer.objects.filter(status=TransferStatus.PREPARED).values_list("pk", "commit_entry_id")
    )
    final = _final_entries([entry for entry in waiting.values() if entry])
    ready = [pk for pk, entry in waiting.items() if entry in final]
    if ready:
        Transfer.objects.filter(pk__in=ready, status=TransferStatus.PREPARED).update(due_at=now)
    return ready


def _commit(transfer: Transfer, adapter_for: AdapterFor, now: dt.datetime):
    if transfer.status == TransferStatus.PREPARED:
        if transfer.commit_entry_id not in _final_entries([transfer.commit_entry_id]):
            # the ledger task releases it as soon as its block is endorsed; this is only the safety net
            request_anchoring()
            return now + dt.timedelta(seconds=settings.SETTLEMENT_LEDGER_RECHECK_SECONDS)
        with transaction.atomic():
            transfer_status_set(
                transfer=transfer, to=TransferStatus.COMMITTING, cause="commit decision final", actor=SYSTEM
            )
        return CONTINUE
    for leg in _legs(transfer, LegStatus.PREPARED):
        try:
            outcome = adapter_for(leg.csd).commit(_wire_leg(leg, transfer))
        except csd.AdapterError as exc:
            if not exc.permanent:
                raise
            # after the anchor there is no way back: keep the transfer due and let operations see why
            log.error(
                "transfer %s: %s refused the commit of %s: %s", transfer.pk, leg.csd.code, leg.leg_id, exc
            )
            Leg.objects.filter(pk=leg.pk).update(reason_code=(exc.reason_code or "OTHR")[:4])
            return now + dt.timedelta(seconds=settings.SETTLEMENT_RETRY_CAP_SECONDS)
        _leg_done(leg, was=LegStatus.PREPARED, to=LegStatus.COMMITTED, outcome=outcome)
    with transaction.atomic():
        legs = list(Leg.objects.filter(transfer=transfer).select_related("csd"))
        if any(leg.status != LegStatus.COMMITTED for leg in legs):
            return CONTINUE
        transfer_status_set(
            transfer=transfer, to=TransferStatus.SETTLED, cause="every leg posted", actor=SYSTEM
        )
        Transfer.objects.filter(pk=transfer.pk).update(settled_at=now)
        entry_append(
            kind=Entry.Kind.SETTLED,
            reference=f"transfer:{transfer.pk}",
            csds=sorted({leg.csd.code for leg in legs}),
            record={
                "transfer": transfer.pk,
                "commit_entry": transfer.commit_entry_id,
                "settled_at": now.isoformat(),
            },
        )
        for instruction in in_lock_order(transfer.deliver, transfer.receive):
            _instruction_close(
                instruction, to=InstructionStatus.SETTLED, cause=f"transfer {transfer.pk} settled"
            )
            notifications.notify(
                instruction,
                notifications.confirmation(instruction, settled_on=now.date()),
                status=InstructionStatus.SETTLED,
            )
        ledger_seal_request()
    return CONTINUE


def _abort_begin(transfer: Transfer, *, reason: str, detail: str) -> None:
    transfer_status_set(
        transfer=transfer, to=TransferStatus.ABORTING, cause=detail, actor=SYSTEM, reason_code=reason[:4]
    )
    Transfer.objects.filter(pk=transfer.pk).update(failure_reason=reason[:4], failure_detail=detail[:200])


def _abort(transfer: Transfer, adapter_for: AdapterFor, now: dt.datetime):
    for leg in _legs(transfer, LegStatus.PENDING, LegStatus.PREPARED):
        try:
            outcome = adapter_for(leg.csd).abort(_wire_leg(leg, transfer))
        except csd.LegAborted:
            outcome = csd.LegOutcome(leg_id=leg.leg_id, state=csd.LegState.ABORTED)
        except csd.AdapterError as exc:
            if not exc.permanent:
                raise
            log.error(
                "transfer %s: %s refused the abort of %s: %s", transfer.pk, leg.csd.code, leg.leg_id, exc
            )
            return now + dt.timedelta(seconds=settings.SETTLEMENT_RETRY_CAP_SECONDS)
        _leg_done(leg, was=leg.status, to=LegStatus.ABORTED, outcome=outcome)
    transfer = _load(transfer.pk)
    with transaction.atomic():
        legs = list(Leg.objects.filter(transfer=transfer).select_related("csd"))
        if any(leg.status != LegStatus.ABORTED for leg in legs):
            return CONTINUE
        transfer_status_set(
            transfer=transfer,
            to=TransferStatus.FAILED,
            cause="every leg released",
            actor=SYSTEM,
            reason_code=transfer.failure_reason,
        )
        csds = {leg.csd.code for leg in legs} or {transfer.deliver.csd.code, transfer.receive.csd.code}
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
            _instruction_close(
                instruction, to=InstructionStatus.FAILED, cause=transfer.failure_detail or "failed"
            )
            notifications.notify(
                instruction,
                notifications.failed(
                    instruction, reason=transfer.failure_reason, why=transfer.failure_detail
                ),
                status=InstructionStatus.FAILED,
            )
        ledger_seal_request()
    return CONTINUE


def _instruction_close(instruction: Instruction, *, to: str, cause: str) -> None:
    instruction.refresh_from_db(fields=["status"])
    instruction_status_set(instruction=instruction, to=to, cause=cause, actor=SYSTEM)


_STEPS = {
    TransferStatus.MATCHED: _start,
    TransferStatus.PREPARING: _prepare,
    TransferStatus.PREPARED: _commit,
    TransferStatus.COMMITTING: _commit,
    TransferStatus.ABORTING: _abort,
}
