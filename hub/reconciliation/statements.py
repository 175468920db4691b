"""Pulling one CSD's statements through its adapter, and storing them as rows.

The pull makes network calls and so runs outside any database transaction; the store is one transaction.
A statement the CSD cannot give for one account (a permanent ``AdapterError``: an account it does not
know, a request it rejects) is a **gap**, recorded and left out of the checks, never guessed; so is an
account the baseline does not cover (registered after the close was taken), which has no close to start
from: a ``baseline`` gap, left out of check 1 until its first close. Contra
accounts (issuance, mirror) are not gaps: their short positions travel as negative quantities (semt.002
``ShrtLngInd`` ``SHOR``, MT535 ``N``) and are stored and checked like any other account's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from csd_adapters import base as csd_base
from hub.reconciliation import conf
from hub.reconciliation.models import Gap, Movement, Position, Run, Statement, StatementRole
from hub.registry.calendars import csd_business_day_add, csd_is_business_day, csd_local_now
from hub.registry.models import CSD, Denomination, SecuritiesAccount, Security

AdapterFor = Callable[[CSD], csd_base.CsdAdapter]
BATCH = 5000


@dataclass
class PulledHoldings:
    as_of: dt.date
    accounts: list[int] = field(default_factory=list)  # every account asked for
    positions: list[tuple[int, str, str, Decimal]] = field(default_factory=list)  # account, kind, isin, qty
    gaps: list[tuple[int, str]] = field(default_factory=list)  # account, reason


@dataclass
class Pulled:
    csd: CSD
    current: PulledHoldings
    baseline: PulledHoldings | None  # None: the stored end-of-day statement ``baseline_id`` is the baseline
    baseline_id: int | None
    since: dt.date
    until: dt.date
    end_of_day: bool
    pulled_at: dt.datetime
    movements: list[tuple[int, str, str, str, Decimal, dt.date]] = field(default_factory=list)
    movement_gaps: list[tuple[int, str]] = field(default_factory=list)
    baseline_gaps: list[tuple[int, str]] = field(default_factory=list)  # accounts the baseline lacks


def stored_baseline(*, csd: CSD, before: dt.date) -> Statement | None:
    """The latest end-of-day statement of ``csd`` at the close of a day before ``before``."""
    return (
        Statement.objects.filter(csd=csd, end_of_day=True, as_of__lt=before, run__status=Run.Status.DONE)
        .order_by("-as_of", "-id")
        .first()
    )


def closing_day(csd: CSD, *, now: dt.datetime) -> dt.date:
    """The business day an end-of-day run at ``now`` closes: the last business day of the CSD whose
    settlement cut-off (in its own time zone) is at or before ``now`` less half of
    ``RECONCILIATION_EOD_DELAY_MINUTES``. Not the date of ``now``: a run scheduled past local midnight (a
    late cut-off plus the delay), or a task delivered late (a worker restarted overnight), closes the day it
    is for, not the next one. Half the delay, not all of it: the crontab fires at the cut-off plus the delay,
    and a run a moment before it (beat's clock ahead of the worker's), or one of a crontab made before the
    delay was raised (up to twice), still closes that day rather than the day before again."""
    margin = dt.timedelta(minutes=conf.eod_delay_minutes()) / 2
    local = csd_local_now(csd, now=now - margin)
    day = local.date() if local.time() >= csd.settlement_cutoff else local.date() - dt.timedelta(days=1)
    while not csd_is_business_day(csd, day):
        day -= dt.timedelta(days=1)
    return day


def _other_kind(lines, face_amount: dict[str, bool]) -> str | None:
    """Why a statement's quantities cannot be compared with the hub's, or None: a line in units of a security
    the registry counts in face amount, or the other way round (the number would mean something else)."""
    for line in lines:
        if line.isin in face_amount and line.face_amount != face_amount[line.isin]:
            stated, counted = ("face amount", "units") if line.face_amount else ("units", "face amount")
            return f"{line.isin} is stated in {stated}, but the registry counts it in {counted}"
    return None


def _holdings(adapter, accounts, as_of: dt.date, face_amount: dict[str, bool]) -> PulledHoldings:
    """Each account's holdings, one line per ISIN: a statement may give an ISIN on several lines (one per
    place of safekeeping, say), which are summed. A statement of a security in the other kind of quantity
    than the registry's (units, face amount) is a gap."""
    pulled = PulledHoldings(as_of=as_of, accounts=[account.pk for account in accounts])
    for account in accounts:
        try:
            statement = adapter.holdings(account=account.number, as_of=as_of)
        except csd_base.AdapterError as exc:
            if not exc.permanent:
                raise
            pulled.gaps.append((account.pk, f"{type(exc).__name__}: {exc}"[:300]))
            continue
        if (why := _other_kind(statement.positions, face_amount)) is not None:
            pulled.gaps.append((account.pk, why[:300]))
            continue
        totals: dict[str, Decimal] = {}
        for position in statement.positions:
            totals[position.isin] = totals.get(position.isin, Decimal(0)) + position.total
        pulled.positions += [(account.pk, account.kind, isin, q) for isin, q in totals.items() if q]
    return pulled


def statements_pull(*, csd: CSD, adapter_for: AdapterFor, now: dt.datetime, end_of_day: bool) -> Pulled:
    """Every statement the checks need from ``csd``: holdings at the close of its business day (today's
    for an intraday run, the day being closed for an end-of-day run, ``closing_day``), the movements since
    the last stored close, and that close itself when none is stored. No transaction. ``now`` is the run's
    clock, taken before its first request: the statements' ``pulled_at``, by which check 4 knows which
    settled legs they can show."""
    adapter = adapter_for(csd)
    as_of = closing_day(csd, now=now) if end_of_day else csd_local_now(csd, now=now).date()
    accounts = list(SecuritiesAccount.objects.filter(csd=csd).order_by("number"))
    face_amount = {
        isin: denomination == Denomination.FACE_AMOUNT
        for isin, denomination in Security.objects.values_list("isin", "denomination")
    }
    stored = stored_baseline(csd=csd, before=as_of)
    baseline = None
    if stored is None:
        baseline = _holdings(adapter, accounts, csd_business_day_add(csd, as_of, -1), face_amount)
        since = baseline.as_of + dt.timedelta(days=1)
    else:
        since = stored.as_of + dt.timedelta(days=1)
    pulled = Pulled(
        csd=csd,
        current=_holdings(adapter, accounts, as_of, face_amount),
        baseline=baseline,
        baseline_id=stored.pk if stored else None,
        since=since,
        until=as_of,
        end_of_day=end_of_day,
        pulled_at=now,
    )
    if stored is not None:
        # an account registered after the stored close was taken: it has no close to start from
        covered = set(stored.covered_accounts.values_list("pk", flat=True))
        pulled.baseline_gaps = [
            (
                account.pk,
                f"registered after the close of {stored.as_of} was taken; checked from its first close",
            )
            for account in accounts
            if account.pk not in covered
        ]
    for account in accounts:
        try:
            statement = adapter.transactions(account=account.number, since=since, until=as_of)
        except csd_base.AdapterError as exc:
            if not exc.permanent:
                raise
            pulled.movement_gaps.append((account.pk, f"{type(exc).__name__}: {exc}"[:300]))
            continue
        if (why := _other_kind(statement.movements, face_amount)) is not None:
            pulled.movement_gaps.append((account.pk, why[:300]))
            continue
        for m in statement.movements:
            signed = m.quantity if m.credit else -m.quantity
            pulled.movements.append(
                (account.pk, account.kind, m.reference, m.isin, signed, m.settlement_date)
            )
    return pulled


def _statement(run: Run, pulled: Pulled, holdings: PulledHoldings, **fields) -> Statement:
    statement = Statement.objects.create(
        run=run, csd=pulled.csd, as_of=holdings.as_of, pulled_at=pulled.pulled_at, **fields
    )
    Position.objects.bulk_create(
        [
            Position(statement=statement, account_id=a, kind=k, isin=i, quantity=q)
            for a, k, i, q in holdings.positions
        ],
        batch_size=BATCH,
    )
    Gap.objects.bulk_create(
        [Gap(statement=statement, account_id=a, what="holdings", reason=r) for a, r in holdings.gaps]
    )
    if statement.end_of_day:  # a baseline for later runs: which accounts it covers
        covered = Statement.covered_accounts.through
        covered.objects.bulk_create(
            [covered(statement_id=statement.pk, securitiesaccount_id=a) for a in holdings.accounts],
            batch_size=BATCH,
        )
    return statement


def statements_store(*, run: Run, pulled: Pulled) -> Statement:
    """Stores what was pulled as rows, in one transaction; returns the CURRENT statement."""
    with transaction.atomic():
        baseline_id = pulled.baseline_id
        if pulled.baseline is not None:
            baseline_id = _statement(
                run, pulled, pulled.baseline, role=StatementRole.BASELINE, end_of_day=True
            ).pk
        current = _statement(
            run,
            pulled,
            pulled.current,
            role=StatementRole.CURRENT,
            end_of_day=pulled.end_of_day,
            baseline_id=baseline_id,
            movements_since=pulled.since,
            movements_until=pulled.until,
        )
        Movement.objects.bulk_create(
            [
                Movement(
                    statement=current,
                    account_id=a,
                    kind=k,
                    reference=r,
                    isin=i,
                    quantity=q,
                    settlement_date=d,
                )
                for a, k, r, i, q, d in pulled.movements
            ],
            batch_size=BATCH,
        )
        Gap.objects.bulk_create(
            [
                Gap(statement=current, account_id=a, what="transactions", reason=r)
                for a, r in pulled.movement_gaps
            ]
            + [
                Gap(statement=current, account_id=a, what="baseline", reason=r)
                for a, r in pulled.baseline_gaps
            ]
        )
    return current
