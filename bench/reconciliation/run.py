"""Reconciliation check phase over 1,000,000 positions across 5 CSDs, printed as ONE JSON line.

The statements are generated directly as rows (COPY), not pulled over HTTP: 5 CSDs in a full mesh of links,
``--accounts`` participant accounts per CSD each holding every one of ``--isins`` ISINs (issued round robin
by the five CSDs), plus each CSD's omnibus, mirror and issuance lines. Every CSD gets a CURRENT statement
(the positions) and a BASELINE statement of the previous close, which differs from it by ``--movements``
balanced movements per CSD that its statement of transactions carries. Three differences are planted (a
balance, an omnibus and an issued-total break) so the upsert path does real work.

Timed: ``services.run_check_stored``, the same function a run calls once its statements are stored: checks
1-5 in SQL, break upsert, resolution, suspension deadlines; run twice (first: breaks opened; second: the
same breaks seen again). Printed beside it: one plain SQL pass (count and sum) over the same position rows.
Generation and COPY are not timed. Throughput: ``check_positions_per_s`` and ``plain_sql_positions_per_s``,
position rows of both statements a second. ``peak_rss_mb`` is this process's, whose peak is the generation
of the rows: the checks run in PostgreSQL. Needs PostgreSQL (``DATABASE_URL``, by default the local server
the test suite uses); the database is a throwaway one created beside the configured one. Nothing is
asserted about time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
TEMP = Path(tempfile.mkdtemp(prefix="bench-reconciliation-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
# the checks are PostgreSQL SQL: without DATABASE_URL, the server the test suite uses (see Makefile)
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub")
os.environ.setdefault("SECRET_KEY", "bench-reconciliation-not-a-secret")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["LEDGER_KEY_DIR"] = str(TEMP / "keys")
os.environ["LEDGER_GENERATE_DEV_KEYS"] = "true"
os.environ["HUB_VAR_DIR"] = str(TEMP)

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from stdnum import isin as stdnum_isin  # noqa: E402

from bench._support import drop_database, exit_on_sigterm  # noqa: E402

CODES = [
    ("NSD", "NADCRUMM", "RU", "Europe/Moscow"),
    ("STRATE", "STRAZAJJ", "ZA", "Africa/Johannesburg"),
    ("CSCS", "CSCSNGLA", "NG", "Africa/Lagos"),
    ("MCDR", "MCDREGCA", "EG", "Africa/Cairo"),
    ("KACD", "KACDKZKA", "KZ", "Asia/Almaty"),
]
LOT = 1000
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def registry(accounts_per_csd: int, isin_count: int):
    from hub.registry.models import (
        CSD,
        AccountKind,
        CSDLink,
        Holding,
        Participant,
        SecuritiesAccount,
        Security,
    )

    csds = [
        CSD.objects.create(
            code=code,
            name=code,
            country=country,
            bic=bic,
            timezone=tz,
            calendar=country,
            settlement_cutoff=dt.time(16),
            message_standard="MX",
            adapter="iso20022_mx",
        )  # fmt: skip
        for code, bic, country, tz in CODES
    ]
    links = {
        (a.pk, b.pk): CSDLink.objects.create(issuer_csd=a, investor_csd=b)
        for a in csds
        for b in csds
        if a != b
    }
    securities = []
    for n in range(isin_count):
        body = f"XS{n:09d}"
        securities.append(
            Security(isin=body + stdnum_isin.calc_check_digit(body), issuer_csd=csds[n % 5], description=body)
        )
    Security.objects.bulk_create(securities)
    accounts: dict[int, dict] = {}
    for csd in csds:
        participant = Participant.objects.create(bic=f"BNCH{csd.bic[4:8]}", name="bench", home_csd=csd)
        rows = [
            SecuritiesAccount(csd=csd, number=f"P{i:06d}", kind=AccountKind.OWN, participant=participant)
            for i in range(accounts_per_csd)
        ]
        rows.append(SecuritiesAccount(csd=csd, number="ISSUANCE", kind=AccountKind.ISSUANCE))
        for (issuer, investor), link in links.items():
            if issuer == csd.pk:
                rows.append(SecuritiesAccount(csd=csd, number=f"OMNI-{investor}", kind="OMNIBUS", link=link))
            if investor == csd.pk:
                rows.append(SecuritiesAccount(csd=csd, number=f"MIRR-{issuer}", kind="MIRROR", link=link))
        SecuritiesAccount.objects.bulk_create(rows, batch_size=5000)
        accounts[csd.pk] = {a.number: a.pk for a in SecuritiesAccount.objects.filter(csd=csd)}
    issued = LOT * accounts_per_csd * 5
    Holding.objects.bulk_create(
        [
            Holding(account_id=accounts[s.issuer_csd_id]["ISSUANCE"], security=s, quantity=-issued, as_of=NOW)
            for s in securities
        ]
    )
    return csds, securities, accounts


def statements(csds, securities, accounts, accounts_per_csd: int, movements: int):
    """The rows of every statement, written with COPY; returns the run, its statement ids and row counts."""
    from hub.reconciliation.models import Run, Statement

    run = Run.objects.create(kind=Run.Kind.ON_DEMAND, requested_by="bench", status=Run.Status.RUNNING)
    today = NOW.date()
    yesterday = today - dt.timedelta(days=1)
    positions, moves = io.StringIO(), io.StringIO()
    counts = {"current_positions": 0, "baseline_positions": 0, "movements": 0}
    held_per_csd = LOT * accounts_per_csd
    for csd in csds:
        mine = accounts[csd.pk]
        base = Statement.objects.create(
            run=run, csd=csd, role="BASELINE", as_of=yesterday, end_of_day=True, pulled_at=NOW
        )
        cur = Statement.objects.create(
            run=run, csd=csd, role="CURRENT", as_of=today, end_of_day=False, baseline=base,
            movements_since=today, movements_until=today, pulled_at=NOW,
        )  # fmt: skip
        participant_ids = [mine[f"P{i:06d}"] for i in range(accounts_per_csd)]
        moved = {}
        for m in range(movements):  # a balanced movement: P(a) delivers to P(b)
            isin = securities[m % len(securities)].isin
            row = m // len(securities)
            a = participant_ids[row % accounts_per_csd]
            b = participant_ids[(row + accounts_per_csd // 2) % accounts_per_csd]
            if a == b or (a, isin) in moved or (b, isin) in moved:
                continue  # more movements asked than distinct lines: each line moves once
            moved[(a, isin)], moved[(b, isin)] = -5, 5
            moves.write(
                f"{cur.pk}\t{a}\tOWN\tBM{m}\t{isin}\t-5\t{today}\n{cur.pk}\t{b}\tOWN\tBM{m}\t{isin}\t5\t{today}\n"
            )
            counts["movements"] += 2
        for security in securities:
            isin = security.isin
            for account_id in participant_ids:
                positions.write(f"{cur.pk}\t{account_id}\tOWN\t{isin}\t{LOT}\n")
                positions.write(
                    f"{base.pk}\t{account_id}\tOWN\t{isin}\t{LOT - moved.get((account_id, isin), 0)}\n"
                )
            lines = []
            if security.issuer_csd_id == csd.pk:
                lines.append((mine["ISSUANCE"], "ISSUANCE", -held_per_csd * 5))
                lines += [(mine[f"OMNI-{o.pk}"], "OMNIBUS", held_per_csd) for o in csds if o != csd]
            else:
                lines.append((mine[f"MIRR-{security.issuer_csd_id}"], "MIRROR", -held_per_csd))
            for account_id, kind, quantity in lines:
                positions.write(f"{cur.pk}\t{account_id}\t{kind}\t{isin}\t{quantity}\n")
                positions.write(f"{base.pk}\t{account_id}\t{kind}\t{isin}\t{quantity}\n")
            counts["current_positions"] += len(participant_ids) + len(lines)
            counts["baseline_positions"] += len(participant_ids) + len(lines)
    with connection.cursor() as cursor:
        positions.seek(0)
        cursor.copy_expert(
            "COPY reconciliation_position (statement_id, account_id, kind, isin, quantity) FROM STDIN",
            positions,
        )
        moves.seek(0)
        cursor.copy_expert(
            "COPY reconciliation_movement (statement_id, account_id, kind, reference, isin, quantity,"
            " settlement_date) FROM STDIN",
            moves,
        )
    return run, counts


def plant_differences(run, securities, accounts, csds) -> None:
    """A balance break (a line changed after the close), an omnibus drift and an undue creation."""
    first, second = csds[0], csds[1]
    with connection.cursor() as cursor:
        cursor.execute(  # balance: P000000 at the first CSD holds 3 more with no movement
            "UPDATE reconciliation_position SET quantity = quantity + 3 WHERE statement_id IN"
            " (SELECT id FROM reconciliation_statement WHERE run_id = %s AND role = 'CURRENT' AND csd_id = %s)"
            " AND account_id = %s AND isin = %s",
            [run.pk, first.pk, accounts[first.pk]["P000000"], securities[1].isin],
        )
        omnibus = accounts[first.pk][f"OMNI-{second.pk}"]
        cursor.execute(  # omnibus drift in the same statement and its baseline: not a balance break
            "UPDATE reconciliation_position SET quantity = quantity - 11 WHERE statement_id IN"
            " (SELECT id FROM reconciliation_statement WHERE run_id = %s AND csd_id = %s)"
            " AND account_id = %s AND isin = %s",
            [run.pk, first.pk, omnibus, securities[0].isin],
        )


def timed(callable_):
    started = time.perf_counter()
    result = callable_()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000, help="participant accounts per CSD")
    parser.add_argument("--isins", type=int, default=200)
    parser.add_argument("--movements", type=int, default=20_000, help="movements per CSD")
    args = parser.parse_args()
    exit_on_sigterm()
    try:
        run(args)
    finally:
        shutil.rmtree(TEMP, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    if connection.vendor != "postgresql":
        sys.exit("bench/reconciliation needs PostgreSQL: set DATABASE_URL=postgres://...")
    name = connection.settings_dict["TEST"]["NAME"] = f"bench_reconciliation_{os.getpid()}"
    old = None
    try:
        old = setup_databases(verbosity=0, interactive=False)
        from hub.reconciliation.models import Break
        from hub.reconciliation.services import run_check_stored

        (csds, securities, accounts), setup_registry = timed(lambda: registry(args.accounts, args.isins))
        with transaction.atomic():
            (run, counts), load_s = timed(
                lambda: statements(csds, securities, accounts, args.accounts, args.movements)
            )
            plant_differences(run, securities, accounts, csds)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE reconciliation_position; ANALYZE reconciliation_movement")
        csd_ids = [c.pk for c in csds]
        first, first_s = timed(lambda: run_check_stored(run=run, csd_ids=csd_ids, now=NOW))
        # the same statements checked again by a second run: every break is seen again, none opened
        from hub.reconciliation.models import Run, Statement

        again = Run.objects.create(kind=Run.Kind.ON_DEMAND, requested_by="bench", status=Run.Status.RUNNING)
        Statement.objects.filter(run=run).update(run=again)
        second, second_s = timed(lambda: run_check_stored(run=again, csd_ids=csd_ids, now=NOW))

        def plain_pass():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*), sum(quantity) FROM reconciliation_position WHERE statement_id IN"
                    " (SELECT id FROM reconciliation_statement WHERE run_id = %s)",
                    [again.pk],
                )
                return cursor.fetchone()

        (rows, _total), plain_s = timed(plain_pass)
        kinds = sorted(Break.objects.filter(status="OPEN").values_list("kind", flat=True))
        result = {
            "bench": "reconciliation",
            "database": connection.vendor,
            "csds": len(csds),
            "isins": len(securities),
            **counts,
            "rows_read_by_plain_pass": rows,
            "check_phase_s": round(first_s, 3),
            "check_phase_again_s": round(second_s, 3),
            "plain_sql_pass_s": round(plain_s, 4),
            "ratio_check_vs_plain": round(first_s / plain_s, 1),
            # throughput: position rows of both statements (CURRENT and BASELINE) a second
            "check_positions_per_s": round(rows / first_s),
            "plain_sql_positions_per_s": round(rows / plain_s),
            "target_s": 10,
            "breaks_opened": first.breaks_opened,
            "breaks_seen_again": second.breaks_seen,
            "breaks_opened_again": second.breaks_opened,
            "break_kinds": kinds,
            "setup_registry_s": round(setup_registry, 3),
            "generate_and_copy_s": round(load_s, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    finally:
        if old is not None:
            teardown_databases(old, verbosity=0)
        # interrupted while setup_databases made it (its migrations take seconds), it is there all the same
        drop_database(os.environ["DATABASE_URL"], name=name)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
