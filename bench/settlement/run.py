"""Settlement end to end: instructions in through the HTTP message API, confirmations out, with the real
processes: gunicorn, a Celery worker and beat on Redis and PostgreSQL, five reference CSDs over HTTP
(each in MX or MT as its market speaks), the shared ledger sealing and endorsing blocks.

Run: ``.venv/bin/python bench/settlement/run.py [--count 20000] [--workers 4]``. The database
``hub_bench_settlement`` is dropped and created (``BENCH_DATABASE_URL`` overrides), and dropped again at the
end with the run's processes, queues and temporary folder, on failure, Ctrl-C or SIGTERM too. Prints ONE
JSON line; asserts nothing about time.

- ``settled_per_second``: transfers settled divided by the time from the first instruction sent to the
  last transfer settled (both sides' confirmations are in the outboxes by then).
- ``matched_to_settled``: p50/p99 of each transfer's time from match to settlement.
- ``cpu_ms_per_settled_transfer``: CPU each role used (workers, web, reference CSDs, beat, the PostgreSQL
  server: the bench database's backends and the server's own processes, not other databases' backends)
  over the same span, per settled transfer: where the time goes. Backends that exited during the run
  count apart (``postgresql_exited_backends_any_database``, out of the totals): the postmaster sums them
  over every database of the server. On two cores, 500 settled transfers/s leave 4 ms for all of it.
  ``hub_only`` leaves out the reference CSDs, which stand in for the CSDs' own systems (on their own
  machines in production).
- ``baseline_postgresql``: PostgreSQL's raw write rate on the same server in the same run: single-row
  INSERT + COMMIT per second from one connection (the price of one durable step) and rows per second
  inserted in batches, so the distance to the limit is visible; and whether the server runs autovacuum (a
  server without it, as CI machines are often set up, keeps every dead row version the run leaves).
- ``python``: the interpreter's version, path and whether it loads libpython as a shared library (such a
  build ran this bench about a quarter slower here than a statically linked one).
- ``phases_ms_per_settled_transfer``, with ``--phases`` only: each role's CPU inside the functions that
  matter, per settled transfer, inclusive of what they call (``_phases.py``: the thread CPU time spent in
  them, not a profiler's samples). The measured run costs a little more; take speed figures without it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/hub_bench_settlement"
ENV = {
    "DJANGO_SETTINGS_MODULE": "hub.settings",
    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
    "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13"),
    "CELERY_QUEUE": f"bench-settlement-{os.getpid()}",
    "SECRET_KEY": "bench-only-secret",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DEBUG": "false",
    "LOG_LEVEL": "WARNING",
    "LEDGER_GENERATE_DEV_KEYS": "true",
    "SETTLEMENT_BUSINESS_DAYS_ONLY": "false",
    "SETTLEMENT_CUTOFFS_ENFORCED": "false",  # the bench runs at any time of day
    "SETTLEMENT_LEDGER_RECHECK_SECONDS": "3",
    # no connection is recycled during a run (the default does it each minute), so each backend's CPU is
    # counted in the bench's database: one that exits lands in the postmaster's sum over every database
    "DB_CONN_MAX_AGE": "3600",
}
os.environ.update(ENV)

import django  # noqa: E402
import psycopg2  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402

from bench._support import (  # noqa: E402
    connection_params,
    drop_database,
    exit_on_sigterm,
    free_port,
    interpreter,
    percentile,
    recreate_database,
    signals_held,
    wait_until_up,
)
from bench.settlement import _phases  # noqa: E402


def postgresql_write_rate(url: str) -> dict:
    name, params = connection_params(url)
    conn = psycopg2.connect(dbname=name, **params)
    with conn.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_writes (id bigserial PRIMARY KEY, payload text)")
    conn.commit()
    rows = 2000
    started = time.perf_counter()
    for i in range(rows):
        with conn.cursor() as cursor:
            cursor.execute("INSERT INTO bench_writes (payload) VALUES (%s)", [f"row {i}"])
        conn.commit()
    single = rows / (time.perf_counter() - started)
    batch_rows = 100_000
    started = time.perf_counter()
    with conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_writes (payload) SELECT 'row ' || g FROM generate_series(1, %s) g",
            [batch_rows],
        )
    conn.commit()
    batched = batch_rows / (time.perf_counter() - started)
    with conn.cursor() as cursor:
        # a server without autovacuum keeps every dead row version of the run's updates in its indexes
        cursor.execute("SHOW autovacuum")
        (autovacuum,) = cursor.fetchone()
    conn.close()
    return {
        "single_row_commits_per_s": round(single, 1),
        "batched_rows_per_s": round(batched, 1),
        "autovacuum": autovacuum,
    }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# a backend's title: "postgres: [cluster: ]user database host(port)|[local] state"
_BACKEND = re.compile(r"postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])")
EXITED_BACKENDS = "postgresql_exited_backends_any_database"


def processes_by_role(groups: dict[str, list[int]], database: str) -> dict[str, dict[str, float]]:
    """For each role (its process groups: a role's children, the prefork pool or gunicorn's workers, share
    its group), and for PostgreSQL (the backends of ``database`` and the server's own processes, not the
    backends of other databases: the server may be shared): the CPU seconds its processes have used so far,
    reaped children included, and the largest peak resident set (VmHWM) among them, in MiB. The
    postmaster's reaped children, the backends that have exited, are ``EXITED_BACKENDS`` apart: the
    postmaster sums them over every database."""
    role_of = {pgid: role for role, pgids in groups.items() for pgid in pgids}
    roles: dict[str, dict[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (entry / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        role = role_of.get(int(fields[2]))
        cpu = fields[11:15]  # utime, stime, and those of the reaped children: cutime, cstime
        if role is None and command.startswith("postgres"):
            backend = _BACKEND.match(command)
            if backend and backend.group(1) != database:
                continue
            role = "postgresql"
        elif role is None and "/bin/postgres " in command:  # the postmaster
            role = "postgresql"
            cpu = fields[11:13]
            exited = roles.setdefault(EXITED_BACKENDS, {"cpu_s": 0.0, "peak_rss_mb": 0.0})
            exited["cpu_s"] += sum(int(value) for value in fields[13:15]) / CLOCK_TICKS
        if role is None:
            continue
        figures = roles.setdefault(role, {"cpu_s": 0.0, "peak_rss_mb": 0.0})
        figures["cpu_s"] += sum(int(value) for value in cpu) / CLOCK_TICKS
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                figures["peak_rss_mb"] = max(figures["peak_rss_mb"], round(int(line.split()[1]) / 1024, 1))
    return roles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--count",
        type=int,
        default=int(os.environ.get("BENCH_SETTLEMENT_COUNT", "20000")),
        help="transfers (default $BENCH_SETTLEMENT_COUNT or 20000)",
    )
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (one per core)")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--bulk-size", type=int, default=200, help="instructions per bulk file")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument(
        "--phases", action="store_true", help="also measure each role's CPU function by function (_phases.py)"
    )
    args = parser.parse_args()

    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="bench-settlement-"))
    children: list[subprocess.Popen] = []
    try:
        run(args, workdir, children)
    finally:
        # a second signal (Ctrl-C reaches compare.py and this bench alike, and compare.py then sends
        # SIGTERM) waits for the cleanup rather than cutting it short
        with signals_held():
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, 15)
            for child in children:
                try:
                    child.wait(20)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.pid, 9)
                    child.wait()
            # what the run left queued (beat's last ticks, say) goes with it, and kombu's tables of its queues
            queues = (
                ENV["CELERY_QUEUE"],
                *(f"{ENV['CELERY_QUEUE']}.{kind}" for kind in ("ledger", "commit")),
            )
            redis.Redis.from_url(ENV["CELERY_BROKER_URL"]).delete(
                *queues,
                *(f"_kombu.binding{table}.{queue}" for queue in queues for table in ("", "_permanent")),
            )
            drop_database(ENV["DATABASE_URL"])
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path, children: list[subprocess.Popen]) -> None:
    """The run itself; every process it starts goes in ``children``, for ``main`` to stop."""
    recreate_database(ENV["DATABASE_URL"])
    baseline = postgresql_write_rate(ENV["DATABASE_URL"])
    database, _ = connection_params(ENV["DATABASE_URL"])
    django.setup()
    from django.core.management import call_command

    from hub.registry.models import Participant
    from hub.registry.reference_csds import reference_csd_processes, reference_csds_export
    from hub.registry.services import participant_token_issue
    from hub.settlement.models import Transfer
    from hub.settlement.simulation import trade_messages, trades_plan
    from iso20022.bulk import join_mt, join_mx

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0, stdout=io.StringIO())  # stdout is for the JSON line alone
    os.environ["HUB_VAR_DIR"] = str(workdir)
    ports = {code: free_port() for code in ("NSD", "STRATE", "CSCS", "MCDR", "KACD")}
    reference_csds_export(directory=workdir / "reference_csd", ports=ports)
    roles: dict[str, list[int]] = {}
    measured = workdir / "phases"
    if args.phases:
        measured.mkdir()
        os.environ["BENCH_PHASES_DIR"] = str(measured)

    def start(command: list[str], role: str) -> subprocess.Popen:
        if args.phases:  # each process runs its module through the measuring wrapper
            command = [command[0], str(Path(__file__).with_name("_phases.py")), *command[1:]]
        with signals_held():
            child = subprocess.Popen(
                command,
                cwd=ROOT,
                env=os.environ.copy(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            children.append(child)
        roles.setdefault(role, []).append(child.pid)
        return child

    python = sys.executable
    for process in reference_csd_processes(directory=workdir / "reference_csd", python=python):
        start(process.command, "reference_csd")
    web_port = free_port()
    start(
        [
            python,
            "-m",
            "gunicorn",
            "hub.wsgi",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            str(args.web_workers),
            "--log-level",
            "warning",
        ],
        "web",
    )
    start(
        [
            python,
            "-m",
            "celery",
            "-A",
            "hub",
            "worker",
            "-l",
            "warning",
            "-c",
            str(args.workers),
            "-n",
            f"bench-{os.getpid()}@%h",
        ],
        "worker",
    )
    start([python, "-m", "celery", "-A", "hub", "beat", "-l", "warning", "--pidfile="], "beat")
    base = f"http://127.0.0.1:{web_port}"
    wait_until_up(
        f"{base}/health/",
        what="the hub (web, worker, broker)",
        timeout=150,
        ready=lambda response: response.json().get("status") == "ok",
    )
    trades = trades_plan(count=args.count, lack_share=0.0, seed=20261124, prefix="B")
    tokens = {p.bic: participant_token_issue(participant=p) for p in Participant.objects.all()}
    by_sender: dict[tuple[str, str], list[bytes]] = {}
    for trade in trades:
        for bic, body, content_type in trade_messages(trade):
            by_sender.setdefault((bic, content_type), []).append(body)
    files = []
    for (bic, content_type), bodies in by_sender.items():
        for start_at in range(0, len(bodies), args.bulk_size):
            chunk = bodies[start_at : start_at + args.bulk_size]
            payload = join_mx(chunk) if content_type == "application/xml" else join_mt(chunk)
            files.append((bic, content_type, payload))

    def send(item) -> int:
        bic, content_type, payload = item
        response = requests.post(
            f"{base}/api/v1/messages/bulk/",
            data=payload,
            timeout=600,
            headers={"Authorization": f"Token {tokens[bic]}", "Content-Type": content_type},
        )
        return sum(1 for r in response.json()["results"] if r["http_status"] == 202)

    started = time.time()
    before = processes_by_role(roles, database)
    phases_before = _phases.read(measured) if args.phases else {}
    with ThreadPoolExecutor(4) as pool:
        accepted = sum(pool.map(send, files))
    sent_s = time.time() - started
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        settled = Transfer.objects.filter(status="SETTLED").count()
        if settled + Transfer.objects.filter(status="FAILED").count() >= args.count:
            break
        time.sleep(1)
    after = processes_by_role(roles, database)
    phases_after = _phases.read(measured) if args.phases else {}
    rows = list(Transfer.objects.filter(status="SETTLED").values_list("created_at", "settled_at"))
    # where the time went: CPU milliseconds per settled transfer, by role, from the first instruction
    # sent to the last transfer settled (500 settled transfers/s on two cores leave 4 ms for all of it)
    cpu_ms = {
        role: round((figures["cpu_s"] - before.get(role, {}).get("cpu_s", 0.0)) * 1000 / max(len(rows), 1), 2)
        for role, figures in after.items()
    }
    elapsed = (max(s for _c, s in rows).timestamp() - started) if rows else float("nan")
    latencies = [(s - c).total_seconds() * 1000 for c, s in rows]
    from hub.messaging.models import OutboundMessage
    from hub.settlement.models import Leg

    confirmations = OutboundMessage.objects.filter(status="SETTLED").count()
    print(
        json.dumps(
            {
                "bench": "settlement",
                "database": "postgresql",
                "broker": "redis",
                "transfers": args.count,
                "instructions_accepted": accepted,
                "instructions_sent_s": round(sent_s, 2),
                "settled": len(rows),
                "failed": Transfer.objects.filter(status="FAILED").count(),
                "legs": Leg.objects.count(),
                "confirmations_out": confirmations,
                "elapsed_s": round(elapsed, 2),
                "settled_per_second": round(len(rows) / elapsed, 2) if rows else 0,
                "matched_to_settled": {
                    "p50_ms": round(percentile(latencies, 0.5), 1),
                    "p99_ms": round(percentile(latencies, 0.99), 1),
                },
                "baseline_postgresql": baseline,
                "settled_vs_single_row_commits": round(
                    (len(rows) / elapsed) / baseline["single_row_commits_per_s"], 4
                )
                if rows
                else 0,
                "target_settled_per_second": 500,
                "celery_workers": args.workers,
                "python": interpreter(),
                "cpu_ms_per_settled_transfer": cpu_ms
                | {
                    # the backends that have exited are left out: their figure mixes every database's
                    "total": round(sum(v for role, v in cpu_ms.items() if role != EXITED_BACKENDS), 2),
                    # the reference CSDs stand in for the CSDs' own systems, on their own machines
                    "hub_only": round(
                        sum(
                            v for role, v in cpu_ms.items() if role not in ("reference_csd", EXITED_BACKENDS)
                        ),
                        2,
                    ),
                },
                "peak_rss_mb": {
                    "bench": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                    **{role: f["peak_rss_mb"] for role, f in after.items() if role != EXITED_BACKENDS},
                },
            }
            | (
                {
                    "phases_ms_per_settled_transfer": _phases.breakdown(
                        phases_before,
                        phases_after,
                        {pid: role for role, pids in roles.items() for pid in pids},
                        len(rows),
                    )
                }
                if args.phases
                else {}
            )
        )
    )


if __name__ == "__main__":
    main()
