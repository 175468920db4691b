"""Scenarios of the reconciliation migrations that move data, run on either database: in the test process
on PostgreSQL (``test_migrations``), and in a child process on the embedded SQLite default of ``make run``.
Each takes the database back to the migration before the one it tests, writes rows as they were stored
then (raw SQL: the models describe the tables as they are now), migrates forward and checks the rows."""

import datetime as dt
from decimal import Decimal

from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

APP = "reconciliation"


def migrate(name: str | None) -> None:
    """The reconciliation app at migration ``name`` (None: every app at its latest)."""
    if connection.vendor == "postgresql":
        # the test's own transaction: rows written in it must be checked before a table is altered
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes() if name is None else [(APP, name)]
    executor.migrate(targets)


def sql(statement: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _ids(table: str) -> list[int]:
    return [pk for (pk,) in sql(f"SELECT id FROM {table} ORDER BY id")]  # noqa: S608 - a constant


def world() -> dict[str, int]:
    """The demo registry, and NSD's account ids by number."""
    call_command("seed_demo", verbosity=0)
    return dict(
        sql(
            "SELECT a.number, a.id FROM registry_securitiesaccount a JOIN registry_csd c ON c.id = a.csd_id"
            " WHERE c.code = 'NSD'"
        )
    )


def _run(csd_id=None) -> int:
    sql(
        "INSERT INTO reconciliation_run (csd_id, kind, status, requested_by, requested_at, cross_checks,"
        " breaks_opened, breaks_seen, breaks_resolved, notes, error)"
        " VALUES (%s, 'EOD', 'DONE', 'test', %s, false, 0, 0, 0, '', '')",
        [csd_id, dt.datetime(2026, 11, 25, 16, tzinfo=dt.UTC)],
    )
    return _ids("reconciliation_run")[-1]


def _statement(
    run_id: int,
    csd_id: int,
    as_of: dt.date,
    *,
    role="CURRENT",
    baseline_id=None,
    until=None,
    end_of_day=True,
) -> int:
    sql(
        "INSERT INTO reconciliation_statement (run_id, csd_id, role, as_of, end_of_day, baseline_id,"
        " movements_since, movements_until, pulled_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            run_id,
            csd_id,
            role,
            as_of,
            end_of_day,
            baseline_id,
            until and as_of,
            until,
            dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
        ],
    )
    return _ids("reconciliation_statement")[-1]


def nsd_id() -> int:
    return sql("SELECT id FROM registry_csd WHERE code = 'NSD'")[0][0]


def checked_until_is_the_window_end_of_the_run_that_last_found_a_break() -> None:
    world()
    nsd = nsd_id()
    migrate("0009_break_seen_by")
    first, last = _run(nsd), _run(nsd)
    thursday, friday = dt.date(2026, 11, 26), dt.date(2026, 11, 27)
    baseline = _statement(first, nsd, dt.date(2026, 11, 25), role="BASELINE")
    _statement(first, nsd, thursday, baseline_id=baseline, until=thursday)
    _statement(last, nsd, friday, baseline_id=baseline, until=friday)
    seen = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    for kind, csd, checked_from in (("BALANCE", nsd, thursday), ("LG_CHAIN", None, None)):
        sql(
            "INSERT INTO reconciliation_break (kind, csd_id, isin, account, reference, detail, status,"
            " first_seen_at, first_seen_run_id, last_seen_at, last_seen_run_id, checked_from)"
            " VALUES (%s, %s, '', 'ISSUANCE', '', '', 'OPEN', %s, %s, %s, %s, %s)",
            [kind, csd, seen, first, seen, last, checked_from],
        )
    migrate("0010_break_checked_until")
    assert sql("SELECT kind, checked_until FROM reconciliation_break ORDER BY kind") == [
        ("BALANCE", friday),
        ("LG_CHAIN", None),
    ]
    migrate(None)


def duplicate_position_lines_are_summed_into_one() -> None:
    """Before 0006 a statement could hold one ISIN of an account on several lines (two places of
    safekeeping): the migration sums them into the line of the lowest id, so the constraint can be added."""
    accounts = world()
    nsd = nsd_id()
    migrate("0005_run_complete_without_contra_gaps")
    run = _run(nsd)
    statement = _statement(run, nsd, dt.date(2026, 11, 25), role="BASELINE")
    lines = [
        ("DEMARUMM-OWN", "RU000DEMO019", "10.5"),
        ("DEMARUMM-OWN", "RU000DEMO027", "7"),
        ("DEMARUMM-OWN", "RU000DEMO019", "20.25"),
        ("ISSUANCE", "RU000DEMO019", "-30.75"),
        ("DEMARUMM-OWN", "RU000DEMO019", "100"),
    ]
    for number, isin, quantity in lines:
        sql(
            "INSERT INTO reconciliation_position (statement_id, account_id, kind, isin, quantity)"
            " VALUES (%s, %s, 'OWN', %s, %s)",
            [statement, accounts[number], isin, Decimal(quantity)],
        )
    first = _ids("reconciliation_position")[0]
    migrate("0006_position_one_line_per_isin")
    kept = sql(
        "SELECT id, account_id, isin, quantity FROM reconciliation_position WHERE statement_id = %s ORDER BY id",
        [statement],
    )
    assert [(pk, account, isin, Decimal(q)) for pk, account, isin, q in kept] == [
        (first, accounts["DEMARUMM-OWN"], "RU000DEMO019", Decimal("130.75")),
        (first + 1, accounts["DEMARUMM-OWN"], "RU000DEMO027", Decimal(7)),
        (first + 3, accounts["ISSUANCE"], "RU000DEMO019", Decimal("-30.75")),
    ]
    migrate(None)


def every_close_stored_before_0008_covers_the_accounts_registered_now() -> None:
    """Closes stored before they recorded their accounts: each is taken to cover the accounts of its CSD
    registered now (what the checks had assumed), not only the latest, since a run may start from an older
    one (a weekend's re-close of Friday starts from Thursday's)."""
    accounts = world()
    nsd = nsd_id()
    migrate("0007_ledger_outcome_break_kinds")
    run = _run(nsd)
    wednesday, thursday, friday = (dt.date(2026, 11, d) for d in (25, 26, 27))
    first = _statement(run, nsd, wednesday - dt.timedelta(days=1), role="BASELINE")
    closes = [first, _statement(run, nsd, wednesday, baseline_id=first, until=wednesday)]
    closes.append(_statement(run, nsd, thursday, baseline_id=closes[-1], until=thursday))
    intraday = _statement(run, nsd, friday, baseline_id=closes[-1], until=friday, end_of_day=False)
    migrate("0008_statement_covered_accounts")
    covered = sql(
        "SELECT statement_id, securitiesaccount_id FROM reconciliation_statement_covered_accounts"
        " ORDER BY statement_id, securitiesaccount_id"
    )
    assert covered == [(close, account) for close in closes for account in sorted(accounts.values())]
    assert intraday not in {statement for statement, _account in covered}
    migrate(None)


def _break(run_id: int, kind="ISSUED") -> int:
    seen = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    sql(
        "INSERT INTO reconciliation_break (kind, isin, account, reference, detail, status, first_seen_at,"
        " first_seen_run_id, last_seen_at, last_seen_run_id) VALUES (%s, '', '', '', '', 'OPEN', %s, %s, %s, %s)",
        [kind, seen, run_id, seen, run_id],
    )
    return _ids("reconciliation_break")[-1]


def runs_that_found_a_break_become_stretches_of_runs_of_one_scope() -> None:
    """Before 0011 each run that found a break was one row; after, each stretch of runs of one scope."""
    from hub.reconciliation.selectors import breaks_list

    world()
    nsd = nsd_id()
    migrate("0010_break_checked_until")
    r1, r2, r3, r4, r5, r6 = (_run(csd) for csd in (None, nsd, None, None, None, nsd))
    b1, b2 = _break(r1), _break(r2, kind="LG_CHAIN")
    links = [(b1, r1), (b1, r3), (b1, r5), (b1, r6), (b2, r2), (b2, r6)]  # r4 (every CSD) missed b1
    for brk, run in links:
        sql("INSERT INTO reconciliation_break_seen_by (break_id, run_id) VALUES (%s, %s)", [brk, run])
    migrate("0011_break_sightings")
    stretches = sql(
        "SELECT break_id, first_run_id, last_run_id FROM reconciliation_sighting ORDER BY break_id, first_run_id"
    )
    # r2 is NSD's, between r1 and r3 of every CSD; r2 and r6 are NSD's two runs in a row
    assert stretches == [(b1, r1, r3), (b1, r5, r5), (b1, r6, r6), (b2, r2, r6)]
    migrate("0010_break_checked_until")
    assert sql("SELECT break_id, run_id FROM reconciliation_break_seen_by ORDER BY break_id, run_id") == links
    migrate(None)
    found = {run: list(breaks_list(run=run).values_list("pk", flat=True)) for run in (r1, r2, r3, r4, r5, r6)}
    assert found == {r1: [b1], r2: [b2], r3: [b1], r4: [], r5: [b1], r6: [b2, b1]}
