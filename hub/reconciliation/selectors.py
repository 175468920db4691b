"""Reads of reconciliation: runs, breaks, and whether an ISIN is suspended from settlement.

Suspension (CSDR RTS 2017/392 art. 65 and 86): a live break (open or acknowledged) in an ISIN whose
``suspends_at`` (the end of the next business day of its CSD) has passed suspends the ISIN at that CSD,
and the suspension spreads down the chain of links: to every investor CSD that holds the ISIN through a
suspended CSD. In the hub's model an ISIN is held only through its issuer CSD (every leg plan goes through
the issuer's omnibus accounts), so the chain of an ISIN is the set of links whose issuer is the ISIN's
issuer; the recursive query walks it whatever its depth. Resolving the break lifts the suspension at once:
nothing is stored, so there is nothing to release by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from hub.reconciliation.models import Break, BreakEvent, Run

SUSPENDED_CSDS = """
WITH RECURSIVE roots AS (
    SELECT DISTINCT b.isin, coalesce(b.csd_id, sec.issuer_csd_id) AS csd_id, sec.issuer_csd_id
    FROM reconciliation_break b JOIN registry_security sec ON sec.isin = b.isin
    WHERE b.isin IN ({isins}) AND b.status IN ('OPEN', 'ACK') AND b.suspends_at <= %s
), chain AS (
    SELECT isin, csd_id, issuer_csd_id FROM roots
    UNION
    SELECT chain.isin, k.investor_csd_id, chain.issuer_csd_id
    FROM chain JOIN registry_csdlink k ON k.issuer_csd_id = chain.csd_id
    WHERE k.is_active AND k.issuer_csd_id = chain.issuer_csd_id
)
SELECT DISTINCT chain.isin, c.code FROM chain JOIN registry_csd c ON c.id = chain.csd_id
"""


def isins_suspended_csds(isins: Iterable[str], *, now: dt.datetime | None = None) -> dict[str, set[str]]:
    """For each of ``isins`` suspended somewhere now, the codes of the CSDs at which it is (an ISIN that
    settles everywhere is left out). One query however many ISINs: the settlement protocol asks once for
    a whole batch of transfers."""
    isins = sorted(set(isins))
    if not isins:
        return {}
    suspended: dict[str, set[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            SUSPENDED_CSDS.format(isins=", ".join(["%s"] * len(isins))), [*isins, now or timezone.now()]
        )
        for isin, code in cursor.fetchall():
            suspended.setdefault(isin, set()).add(code)
    return suspended


def isin_suspended_csds(isin: str, *, now: dt.datetime | None = None) -> list[str]:
    """Codes of the CSDs at which ``isin`` is suspended now (empty: settles everywhere)."""
    return sorted(isins_suspended_csds([isin], now=now).get(isin, ()))


def isin_suspended(
    isin: str, *, csd_codes: Iterable[str] | None = None, now: dt.datetime | None = None
) -> bool:
    """Whether ``isin`` is suspended from settlement: at any of ``csd_codes`` (the CSDs a transfer's legs
    touch), or anywhere when none are given. One query; a transfer in a suspended ISIN waits."""
    suspended = isin_suspended_csds(isin, now=now)
    if csd_codes is None:
        return bool(suspended)
    return bool(set(suspended) & set(csd_codes))


def suspensions_in_force(*, now: dt.datetime | None = None) -> list[dict]:
    """Every suspended ISIN with the CSDs it is suspended at and the breaks that suspend it."""
    now = now or timezone.now()
    overdue = Break.objects.filter(status__in=("OPEN", "ACK"), suspends_at__lte=now).exclude(isin="")
    by_isin: dict[str, list[int]] = {}
    for isin, break_id in overdue.order_by("isin", "id").values_list("isin", "id"):
        by_isin.setdefault(isin, []).append(break_id)
    return [
        {"isin": isin, "csds": isin_suspended_csds(isin, now=now), "breaks": ids}
        for isin, ids in by_isin.items()
    ]


def runs_list(
    *, csd: str | None = None, status: str | None = None, before: int | None = None
) -> QuerySet[Run]:
    """Runs newest first; ``before``: those older than that run id (the last of the page before)."""
    runs = Run.objects.select_related("csd")
    if before is not None:
        runs = runs.filter(pk__lt=before)
    if csd:
        runs = runs.filter(csd__code=csd)
    if status:
        runs = runs.filter(status=status)
    return runs.order_by("-id")


def breaks_list(
    *,
    status: str | None = None,
    kind: str | None = None,
    csd: str | None = None,
    isin: str | None = None,
    run: int | None = None,
    before: int | None = None,
) -> QuerySet[Break]:
    """Breaks newest first; ``before``: those older than that break id (the last of the page before)."""
    breaks = Break.objects.select_related("csd")
    if before is not None:
        breaks = breaks.filter(pk__lt=before)
    if status == "LIVE":
        breaks = breaks.filter(status__in=("OPEN", "ACK"))
    elif status:
        breaks = breaks.filter(status=status)
    if kind:
        breaks = breaks.filter(kind=kind)
    if csd:
        breaks = breaks.filter(csd__code=csd)
    if isin:
        breaks = breaks.filter(isin=isin)
    if run:  # every break the run found, new or still open, whatever later runs did with it
        scope = Run.objects.filter(pk=run).values_list("csd_id", flat=True)
        if not scope:
            return breaks.none()
        # a stretch of the run's own scope that reaches over it (runs of other scopes are numbered between)
        breaks = breaks.filter(
            sightings__first_run_id__lte=run,
            sightings__last_run_id__gte=run,
            sightings__first_run__csd_id=scope[0],
        )
    return breaks.order_by("-id")


def break_events(*, break_id: int) -> QuerySet[BreakEvent]:
    return BreakEvent.objects.filter(brk_id=break_id).order_by("at", "id")
