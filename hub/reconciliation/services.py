"""Writes of reconciliation: requesting and executing runs, upserting and resolving breaks, the status moves
operators make, and the beat schedules of each CSD.

A run: pull every statement it needs through the adapters (network, no transaction), then in one
transaction store them as rows, run the checks (``checks``), upsert the breaks from what they found (a
break seen again keeps its first-seen time), resolve the live breaks of the run's scope that were not seen,
and set each new break's suspension deadline: the end of the next business day of its CSD (RTS 2017/392
art. 65). Runs are serialised by a PostgreSQL advisory lock held for the check phase only.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from csd_adapters import base as csd_base
from hub.reconciliation import checks, conf, errors
from hub.reconciliation.models import (
    LEDGER_KINDS,
    PER_CSD_KINDS,
    Break,
    BreakEvent,
    BreakStatus,
    Gap,
    Run,
    RunKind,
    RunStatus,
    Statement,
    StatementRole,
)
from hub.reconciliation.statements import AdapterFor, Pulled, statements_pull, statements_store
from hub.registry.calendars import csd_business_day_add, csd_local_now
from hub.registry.models import CSD, AccountKind, CSDStatus, SecuritiesAccount, Security

log = logging.getLogger(__name__)

SYSTEM = "system"
CHECKS_LOCK = 0x5245434F  # "RECO"
ALLOWED_MOVES = {
    BreakStatus.OPEN: {BreakStatus.ACKNOWLEDGED, BreakStatus.RESOLVED},
    BreakStatus.ACKNOWLEDGED: {BreakStatus.RESOLVED},
    BreakStatus.RESOLVED: set(),
}


def _default_adapter(csd: CSD) -> csd_base.CsdAdapter:
    from hub.registry.adapters import csd_adapter

    return csd_adapter(csd)


# --- runs ------------------------------------------------------------------------------------------------


def run_request(*, csd: CSD | None, kind: str, requested_by: str, enqueue: bool = True) -> Run:
    """A queued run of ``csd`` (None: every CSD); with ``enqueue`` a worker executes it once committed."""
    run = Run.objects.create(csd=csd, kind=kind, requested_by=requested_by[:64])
    if enqueue:
        from hub.reconciliation.tasks import run_execute_task

        transaction.on_commit(lambda: run_execute_task.delay(run.pk))
    return run


def run_execute(*, run_id: int, adapter_for: AdapterFor | None = None, now: dt.datetime | None = None) -> Run:
    """Executes a queued run; returns it DONE, or FAILED with the reason (the error is raised again)."""
    now = now or timezone.now()
    if not Run.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now()
    ):
        raise errors.RunNotRunnable(f"run {run_id} is not queued")
    run = Run.objects.select_related("csd").get(pk=run_id)
    try:
        if connection.vendor != "postgresql":
            raise errors.NeedsPostgres("reconciliation runs on PostgreSQL only (DATABASE_URL=postgres://...)")
        adapter_for = adapter_for or _default_adapter
        csds = [run.csd] if run.csd else list(CSD.objects.filter(status=CSDStatus.ACTIVE).order_by("code"))
        end_of_day = run.kind == RunKind.END_OF_DAY
        pulled = [
            statements_pull(csd=csd, adapter_for=adapter_for, now=now, end_of_day=end_of_day) for csd in csds
        ]
        run_check(run=run, pulled=pulled, now=now)
    except Exception as exc:
        Run.objects.filter(pk=run_id).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        log.warning("reconciliation run %s failed: %s", run_id, exc)
        raise
    run.refresh_from_db()
    return run


def run_check(*, run: Run, pulled: list[Pulled], now: dt.datetime) -> Run:
    """Stores what the run pulled and runs the checks over it, in one transaction."""
    with transaction.atomic():
        for item in pulled:
            statements_store(run=run, pulled=item)
        return run_check_stored(run=run, csd_ids=[item.csd.pk for item in pulled], now=now)


def run_check_stored(*, run: Run, csd_ids: list[int], now: dt.datetime) -> Run:
    """The check phase over statements already stored for ``run`` (what the bench times)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHECKS_LOCK])
        checks.found_create()
        checks.per_csd_checks_run(run_id=run.pk)
        missing = _csds_without_statement(run)
        fresh_since = now - dt.timedelta(seconds=conf.cross_max_age_seconds())
        cross_ran = not missing
        unchecked = []
        if cross_ran:
            grace_until = timezone.now() - dt.timedelta(seconds=conf.commit_grace_seconds())
            checks.cross_checks_run(run_id=run.pk, fresh_since=fresh_since, grace_until=grace_until)
            unchecked = checks.cross_unchecked(run_id=run.pk, fresh_since=fresh_since)
        opened, seen = _breaks_upsert(run=run, now=now)
        resolved = _breaks_resolve(
            run=run, csd_ids=csd_ids, cross_ran=cross_ran, fresh_since=fresh_since, now=now
        )
        _suspension_deadlines_set(run=run, now=now)
        left_out = _accounts_left_out_notes(run)
        notes = left_out + unchecked + _gap_notes(run)
        if missing:
            notes.insert(0, f"checks 2, 3 and 5 skipped: no statement yet from {', '.join(missing)}")
        Run.objects.filter(pk=run.pk).update(
            status=RunStatus.DONE,
            finished_at=timezone.now(),
            cross_checks=cross_ran and not unchecked and not left_out,
            breaks_opened=opened,
            breaks_seen=seen,
            breaks_resolved=resolved,
            notes="\n".join(notes),
        )
    run.refresh_from_db()
    return run


def _csds_without_statement(run: Run) -> list[str]:
    have = Statement.objects.filter(Q(run__status=RunStatus.DONE) | Q(run=run), role="CURRENT")
    active = CSD.objects.filter(status=CSDStatus.ACTIVE).exclude(pk__in=have.values("csd_id"))
    return list(active.order_by("code").values_list("code", flat=True))


CSD_OWN_KINDS = {
    AccountKind.ISSUANCE: "issuance",
    AccountKind.MIRROR: "mirror",
    AccountKind.OMNIBUS: "omnibus",
}


def _accounts_left_out_notes(run: Run) -> list[str]:
    """What the run could not check because whole parts of a CSD's books are gaps: every account's
    statement of holdings or of transactions (a CSD answering every request with an error), every account
    missing from the baseline (a close that covers none of them), or a contra (issuance, mirror) or omnibus
    account's statement or close. Such a run is not complete (``cross_checks`` false)."""
    notes = []
    for statement in Statement.objects.filter(run=run, role=StatementRole.CURRENT).select_related(
        "csd", "baseline"
    ):
        csd = statement.csd
        gaps = Gap.objects.filter(statement=statement).select_related("account")
        accounts = SecuritiesAccount.objects.filter(csd=csd).count()
        for what, lacking, left in (
            (
                "holdings",
                "no statement of holdings of any of its accounts",
                "check 1 not made there, nor checks 2 and 3 where they need its holdings",
            ),
            (
                "transactions",
                "no statement of transactions of any of its accounts",
                "checks 1 and 4 not made there",
            ),
            (
                "baseline",
                f"none of its accounts is in its baseline (the close of {statement.baseline.as_of})",
                "check 1 not made there",
            ),
        ):
            if accounts and gaps.filter(what=what).values("account").distinct().count() == accounts:
                notes.append(f"{csd.code}: {lacking}: {left}")
        # an account the baseline lacks (registered after its close was taken) is left out of check 1 too
        named: dict[tuple[str, str], str] = {}
        for gap in gaps:
            if gap.account.kind in CSD_OWN_KINDS:
                key = (gap.account.number, gap.account.kind)
                if gap.what != "baseline" or key not in named:
                    named[key] = "not in the baseline" if gap.what == "baseline" else "no statement of it"
        notes += [
            f"{csd.code}: check 1 not made for its {CSD_OWN_KINDS[kind]} account {number} ({why})"
            for (number, kind), why in sorted(named.items())
        ]
    return notes


def _gap_notes(run: Run) -> list[str]:
    rows = (
        Statement.objects.filter(run=run, gaps__isnull=False)
        .values_list("csd__code", "gaps__account__number", "gaps__what", "gaps__reason")
        .order_by("csd__code", "gaps__account__number", "gaps__what")
    )
    return [
        f"{code} {account}: not in the baseline ({reason})"
        if what == "baseline"
        else f"{code} {account}: no statement of {what} ({reason})"
        for code, account, what, reason in rows
    ]


UPSERT = """
WITH up AS (
    INSERT INTO reconciliation_break (kind, csd_id, isin, account, reference, expected, actual, difference,
        detail, status, first_seen_at, first_seen_run_id, last_seen_at, last_seen_run_id, checked_from,
        checked_until)
    SELECT kind, csd_id, isin, account, reference, expected, actual, actual - expected, detail, 'OPEN',
        %(now)s, %(run)s, %(now)s, %(run)s, since, until
    FROM (
        -- one finding per break: the upsert may touch a break only once (the largest difference is kept)
        SELECT DISTINCT ON (kind, csd_id, isin, account, reference) * FROM recon_found
        ORDER BY kind, csd_id, isin, account, reference,
                 abs(coalesce(actual, 0) - coalesce(expected, 0)) DESC, detail
    ) found
    ON CONFLICT (kind, csd_id, isin, account, reference) WHERE status IN ('OPEN', 'ACK')
    DO UPDATE SET expected = EXCLUDED.expected, actual = EXCLUDED.actual, difference = EXCLUDED.difference,
        detail = EXCLUDED.detail, last_seen_at = EXCLUDED.last_seen_at, last_seen_run_id = EXCLUDED.last_seen_run_id,
        -- seen again over a later window: it still holds the earlier day's difference, and may hold one
        -- of the later days too
        checked_from = LEAST(reconciliation_break.checked_from, EXCLUDED.checked_from),
        checked_until = GREATEST(reconciliation_break.checked_until, EXCLUDED.checked_until)
    RETURNING id, (xmax = 0) AS inserted
), events AS (
    INSERT INTO reconciliation_breakevent (break_id, from_status, to_status, actor, note, run_id, at)
    SELECT id, '', 'OPEN', 'system', 'found by run ' || %(run)s, %(run)s, %(wall)s FROM up WHERE inserted
    RETURNING 1
), extended AS (
    -- found by the previous run of this run's scope too: its stretch goes on to this run
    UPDATE reconciliation_sighting sg SET last_run_id = %(run)s
    FROM up WHERE sg.break_id = up.id AND sg.last_run_id = %(previous)s
    RETURNING sg.break_id
), started AS (
    INSERT INTO reconciliation_sighting (break_id, first_run_id, last_run_id)
    SELECT id, %(run)s, %(run)s FROM up WHERE id NOT IN (SELECT break_id FROM extended)
    RETURNING 1
)
SELECT count(*) FILTER (WHERE inserted), count(*) FROM up
"""

# Breaks carry the run's clock (``now``, which the suspension deadline counts from); events carry the
# wall clock, so the audit trail is in the order things were done.
#
# A live break not seen by this run is resolved only where this run looked again and could have seen it:
# - one CSD's break (BALANCE, MV_*): when the run's statements of that CSD cover the window it was found in,
#   from its first day (a later window starts from a close that already holds the difference) to the last
#   day of the latest window it was found in (a close of an earlier day, taken late, cannot see a
#   difference made after it), and the account has no gap in them or in their baseline;
# - ISSUED: when its ISIN's check was made (every CSD that may hold it with a recent, complete statement);
# - OMNIBUS: when its link's check was made (the link active, the issuer's recent statement has the omnibus
#   account, the investor CSD's participants complete);
# - the ledger's (LG_*, LEG_OPEN): whenever the cross-CSD checks ran.
RESOLVE = f"""
WITH {checks.LATEST}, {checks.INCOMPLETE}, gone AS (
    SELECT b.id, b.status FROM reconciliation_break b
    WHERE b.status IN ('OPEN', 'ACK') AND b.last_seen_run_id <> %(run)s
      AND (
          (b.kind = ANY(%(per_csd)s) AND b.csd_id = ANY(%(csds)s)
           AND EXISTS (
              SELECT 1 FROM reconciliation_statement s
              WHERE s.run_id = %(run)s AND s.role = 'CURRENT' AND s.csd_id = b.csd_id
                AND s.movements_since <= coalesce(b.checked_from, s.movements_since)
                AND s.movements_until >= coalesce(b.checked_until, s.movements_until)
                AND NOT EXISTS (
                    SELECT 1 FROM reconciliation_gap g
                    JOIN registry_securitiesaccount a ON a.id = g.account_id
                    WHERE g.statement_id IN (s.id, s.baseline_id) AND a.csd_id = b.csd_id
                      AND a.number = b.account)))
          OR (%(cross)s AND b.kind = ANY(%(ledger)s))
          OR (%(cross)s AND b.kind = 'ISSUED' AND b.isin IN (SELECT isin FROM issued_checked))
          OR (%(cross)s AND b.kind = 'OMNIBUS' AND EXISTS (
              SELECT 1 FROM omnibus_checked oc JOIN registry_securitiesaccount acc ON acc.id = oc.account_id
              WHERE acc.csd_id = b.csd_id AND acc.number = b.account))
      )
    FOR UPDATE OF b
), done AS (
    UPDATE reconciliation_break b SET status = 'RESOLVED', resolved_at = %(now)s
    FROM gone WHERE b.id = gone.id
    RETURNING b.id, gone.status AS was
), events AS (
    INSERT INTO reconciliation_breakevent (break_id, from_status, to_status, actor, note, run_id, at)
    SELECT id, was, 'RESOLVED', 'system', 'no longer seen by run ' || %(run)s, %(run)s, %(wall)s FROM done
    RETURNING 1
)
SELECT count(*) FROM done
"""  # noqa: S608 - only the checks module's constants are interpolated


def _breaks_upsert(*, run: Run, now: dt.datetime) -> tuple[int, int]:
    # the run of the same scope (this CSD, or every CSD) numbered just before this one, whatever became of it
    previous = (
        Run.objects.filter(csd_id=run.csd_id, pk__lt=run.pk)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    with connection.cursor() as cursor:
        cursor.execute(UPSERT, {"run": run.pk, "now": now, "wall": timezone.now(), "previous": previous})
        opened, seen = cursor.fetchone()
    return opened, seen


def _breaks_resolve(
    *, run: Run, csd_ids: list[int], cross_ran: bool, fresh_since: dt.datetime, now: dt.datetime
) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            RESOLVE,
            {
                "run": run.pk,
                "now": now,
                "wall": timezone.now(),
                "per_csd": [str(k) for k in PER_CSD_KINDS],
                "ledger": [str(k) for k in LEDGER_KINDS],
                "csds": csd_ids,
                "cross": cross_ran,
                "fresh_since": fresh_since,
            },
        )
        return cursor.fetchone()[0]


def suspension_deadline(*, csd: CSD, seen_at: dt.datetime) -> dt.datetime:
    """The end of the business day after the one ``seen_at`` falls on, in the CSD's calendar and zone."""
    day = csd_local_now(csd, now=seen_at).date()
    next_day = csd_business_day_add(csd, day, 1)
    midnight = dt.datetime.combine(next_day + dt.timedelta(days=1), dt.time(0), tzinfo=ZoneInfo(csd.timezone))
    return midnight.astimezone(dt.UTC)


def _suspension_deadlines_set(*, run: Run, now: dt.datetime) -> None:
    """New breaks in an ISIN get their deadline from their CSD (the issuer CSD when they name none)."""
    new = Break.objects.filter(first_seen_run=run, suspends_at__isnull=True).exclude(isin="")
    issuers = dict(Security.objects.filter(isin__in=new.values("isin")).values_list("isin", "issuer_csd_id"))
    by_csd: dict[int, list[int]] = {}
    for break_id, csd_id, isin in new.values_list("id", "csd_id", "isin"):
        owner = csd_id or issuers.get(isin)
        if owner is not None:
            by_csd.setdefault(owner, []).append(break_id)
    for csd in CSD.objects.filter(pk__in=list(by_csd)):
        Break.objects.filter(pk__in=by_csd[csd.pk]).update(
            suspends_at=suspension_deadline(csd=csd, seen_at=now)
        )


# --- operators' moves --------------------------------------------------------------------------------------


def break_status_set(*, break_id: int, to: str, actor: str, note: str = "") -> Break:
    """The one writer of a break's status for a single break: locks it, checks the move, records who."""
    with transaction.atomic():
        brk = Break.objects.select_for_update().get(pk=break_id)
        if to not in ALLOWED_MOVES[BreakStatus(brk.status)]:
            raise errors.BreakStatusConflict(f"break {brk.pk} is {brk.status}; it cannot move to {to}")
        now = timezone.now()
        BreakEvent.objects.create(
            brk=brk, from_status=brk.status, to_status=to, actor=actor[:64], note=note[:500], at=now
        )
        brk.status = to
        brk.resolved_at = now if to == BreakStatus.RESOLVED else None
        brk.save(update_fields=["status", "resolved_at"])
    return brk


def break_acknowledge(*, break_id: int, actor: str, note: str = "") -> Break:
    """An operator has seen the break and works on it; it stays live, and still suspends its ISIN."""
    return break_status_set(break_id=break_id, to=BreakStatus.ACKNOWLEDGED, actor=actor, note=note)


def break_resolve(*, break_id: int, actor: str, note: str) -> Break:
    """An operator closes a break by hand, saying why. If the difference is still there, the next run
    opens a new break for it."""
    if not note.strip():
        raise errors.NoteRequired("say why the break is resolved")
    return break_status_set(break_id=break_id, to=BreakStatus.RESOLVED, actor=actor, note=note)


# --- schedules ---------------------------------------------------------------------------------------------

TASK_SCHEDULED = "hub.reconciliation.run_scheduled"
TASK_SYNC = "hub.reconciliation.schedules_sync"
SYNC_NAME = "reconciliation: keep every CSD's schedules"


def schedule_names(code: str) -> tuple[str, str]:
    return f"reconciliation: {code} intraday", f"reconciliation: {code} end of day"


def reconciliation_schedules_ensure(*, apps=None) -> int:
    """Every CSD gets two beat entries: an intraday interval, and the end of day at its cut-off plus
    ``RECONCILIATION_EOD_DELAY_MINUTES`` as a crontab in its own time zone; plus one entry that re-runs
    this every ``RECONCILIATION_SYNC_SECONDS`` so a CSD added later is scheduled too. Idempotent; ``apps``
    is a migration's app registry (the installed models otherwise). Returns how many CSDs were scheduled."""
    import json

    if apps is None:
        from django.apps import apps as installed

        apps = installed
    csd_model = apps.get_model("registry", "CSD")
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every = conf.intraday_seconds()
    intraday, _ = interval_model.objects.get_or_create(every=every, period="seconds")
    sync, _ = interval_model.objects.get_or_create(every=conf.sync_seconds(), period="seconds")
    task_model.objects.update_or_create(
        name=SYNC_NAME,
        defaults={"task": TASK_SYNC, "interval": sync, "crontab": None, "enabled": True, "kwargs": "{}"},
    )
    count = 0
    for csd in csd_model.objects.order_by("code"):
        enabled = csd.status == CSDStatus.ACTIVE
        # a cut-off late in the day plus the delay may fall after midnight: the crontab then fires early the
        # next calendar day, and the run closes the day before (``statements.closing_day``)
        start = dt.datetime.combine(dt.date(2000, 1, 3), csd.settlement_cutoff) + dt.timedelta(
            minutes=conf.eod_delay_minutes()
        )
        crontab, _ = crontab_model.objects.get_or_create(
            minute=str(start.minute),
            hour=str(start.hour),
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=csd.timezone,
        )
        intraday_name, eod_name = schedule_names(csd.code)
        task_model.objects.update_or_create(
            name=intraday_name,
            defaults={
                "task": TASK_SCHEDULED,
                "interval": intraday,
                "crontab": None,
                "kwargs": json.dumps({"csd": csd.code, "kind": RunKind.INTRADAY.value}),
                "enabled": enabled,
                "expire_seconds": every,
                "description": f"Reconciles {csd.code} with the hub and the ledger during the day.",
            },
        )
        task_model.objects.update_or_create(
            name=eod_name,
            defaults={
                "task": TASK_SCHEDULED,
                "interval": None,
                "crontab": crontab,
                "kwargs": json.dumps({"csd": csd.code, "kind": RunKind.END_OF_DAY.value}),
                "enabled": enabled,
                "description": f"Closing reconciliation of {csd.code}: its statement is the next day's baseline.",
            },
        )
        count += 1
    return count
