"""Intake throughput: instructions accepted per second through the HTTP API, one at a time and in bulk
files, and matching throughput, beside the same messages parsed in-process (the baseline: the cost of the
message layer alone, with no HTTP, no database, no audit trail).

Run: ``.venv/bin/python bench/intake/run.py [--pairs 1000] [--clients 8]``. Needs PostgreSQL (a database
``hub_bench`` is dropped and created, and dropped again at the end; ``BENCH_DATABASE_URL`` overrides).
Prints ONE JSON line; asserts nothing about time.

- ``http_single``: N deliver instructions (sese.023 in the hub envelope, from NSD's demo broker) and N
  receive instructions (MT540, from Strate's), each one POST /api/v1/messages/ by ``--clients`` threads
  against gunicorn (``--web-workers`` processes). Latency is per request, as the client sees it.
- ``http_bulk``: the same number of new instructions in bulk files of ``--bulk-size`` messages.
- ``in_process_bulk``: the same number again in bulk files through ``messages_receive_bulk`` in this
  process (no HTTP): intake's own cost, with its CPU time per message.
- ``matching``: every accepted instruction through ``instructions_match`` in this process, in batches of
  ``--bulk-size`` as the matching task gets them from intake (transfers/s).
- ``baseline_in_process_parse``: the same 2N messages through ``mx.parse`` / ``parse_mt``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/hub_bench"
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
        "SECRET_KEY": "bench-only-secret",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        # matching runs in this process; no worker is started, so on-commit match tasks go to a queue nobody reads
        "CELERY_QUEUE": f"bench-intake-{os.getpid()}",
        # the bench measures intake, not the rate limits: each of its two senders sends its instructions one
        # request each as fast as the web workers take them, which a fast machine could take past the
        # default write budget (the limiter still counts every request, so its cost is measured)
        "API_RATE_LIMIT_WRITES": "1000000",
    }
)

import django  # noqa: E402
import requests  # noqa: E402

from bench._support import (  # noqa: E402
    drop_database,
    exit_on_sigterm,
    free_port,
    percentile,
    recreate_database,
    signals_held,
    wait_until_up,
)


def figures(latencies_ms: list[float], elapsed: float, count: int) -> dict:
    return {
        "count": count,
        "per_second": round(count / elapsed, 1),
        "p50_ms": round(percentile(latencies_ms, 0.5), 2),
        "p99_ms": round(percentile(latencies_ms, 0.99), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--bulk-size", type=int, default=200)
    args = parser.parse_args()

    exit_on_sigterm()
    # the embedded broker's folder, where the match tasks nobody reads are queued, is the run's own
    workdir = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    os.environ["HUB_VAR_DIR"] = str(workdir)
    try:
        run(args)
    finally:
        drop_database(os.environ["DATABASE_URL"])
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    recreate_database(os.environ["DATABASE_URL"])
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from hub.registry.demo import demo_isin
    from hub.registry.models import Participant
    from hub.registry.services import participant_token_issue
    from hub.settlement.bulk import messages_receive_bulk
    from hub.settlement.models import Instruction, Transfer
    from hub.settlement.services import instructions_match
    from iso20022 import models as m
    from iso20022 import mx
    from iso20022.bulk import join_mt, join_mx
    from iso20022.mt import build_mt, parse_mt

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0, stdout=io.StringIO())  # stdout is for the JSON line alone
    tokens = {
        bic: participant_token_issue(participant=Participant.objects.get(bic=bic))
        for bic in ("DEMARUMM", "DEMAZAJJ")
    }
    isin = demo_isin("RU", "01")

    def body(side: str, tx: str, qty: int) -> m.SettlementInstruction:
        deliver = side == "DELI"
        return m.SettlementInstruction(
            transaction_id=tx,
            side=m.Side(side),
            payment=m.Payment.FREE,
            trade_date=dt.date(2026, 11, 24),
            intended_settlement_date=dt.date(2026, 11, 26),
            security=m.Security(isin=isin),
            quantity=m.Quantity(amount=Decimal(qty)),
            safekeeping_account="DEMARUMM-OWN" if deliver else "DEMAZAJJ-OWN",
            account_owner_bic="DEMARUMM" if deliver else "DEMAZAJJ",
            counterparty=m.Counterparty(bic="DEMAZAJJ", csd_bic="STRAZAJJ")
            if deliver
            else m.Counterparty(bic="DEMARUMM", csd_bic="NADCRUMM"),
        )

    def messages(prefix: str) -> list[tuple[str, bytes, str]]:
        out = []
        for i in range(args.pairs):
            deliver, receive = body("DELI", f"{prefix}D{i}", i + 1), body("RECE", f"{prefix}R{i}", i + 1)
            header = m.BusinessHeader(
                from_bic="DEMARUMM",
                to_bic=settings.HUB_BIC,
                business_message_id=f"{prefix}B{i}",
                message_definition_id="sese.023.001.11",
                creation=dt.datetime.now(dt.UTC),
            )
            out.append(("DEMARUMM", mx.build(deliver, header=header), "application/xml"))
            out.append(
                (
                    "DEMAZAJJ",
                    build_mt(receive, sender="DEMAZAJJ", receiver=settings.HUB_BIC).encode(),
                    "text/plain",
                )
            )
        return out

    single, bulk, in_process = messages("S"), messages("K"), messages("P")

    def bulk_files(items: list[tuple[str, bytes, str]]) -> list[tuple[str, bytes, str, int]]:
        files = []
        for bic, content_type in (("DEMARUMM", "application/xml"), ("DEMAZAJJ", "text/plain")):
            mine = [raw for b, raw, _ct in items if b == bic]
            for start in range(0, len(mine), args.bulk_size):
                chunk = mine[start : start + args.bulk_size]
                payload = join_mx(chunk) if content_type == "application/xml" else join_mt(chunk)
                files.append((bic, payload, content_type, len(chunk)))
        return files

    # baseline: the message layer alone, in this process
    started = time.perf_counter()
    parse_latencies = []
    for _bic, raw, content_type in single:
        t0 = time.perf_counter()
        mx.parse(raw) if content_type == "application/xml" else parse_mt(raw)
        parse_latencies.append((time.perf_counter() - t0) * 1000)
    baseline = figures(parse_latencies, time.perf_counter() - started, len(single))

    port = free_port()
    with signals_held():
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "hub.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.web_workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=os.environ.copy(),
        )
    base = f"http://127.0.0.1:{port}"
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session

    def send(
        item: tuple[str, bytes, str], path: str = "/api/v1/messages/"
    ) -> tuple[float, requests.Response]:
        bic, raw, content_type = item
        t0 = time.perf_counter()
        response = session().post(
            f"{base}{path}",
            data=raw,
            timeout=120,
            headers={"Authorization": f"Token {tokens[bic]}", "Content-Type": content_type},
        )
        return (time.perf_counter() - t0) * 1000, response

    try:
        wait_until_up(
            f"{base}/health/?worker=false", what="the hub's web server", timeout=20, get=session().get
        )
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(send, single))
        http_single = figures([r[0] for r in results], time.perf_counter() - started, len(results))
        http_single["accepted"] = sum(1 for r in results if r[1].status_code == 202)

        files = [(bic, payload, content_type) for bic, payload, content_type, _n in bulk_files(bulk)]
        started = time.perf_counter()
        with ThreadPoolExecutor(min(args.clients, len(files))) as pool:
            bulk_results = list(pool.map(lambda f: send(f, "/api/v1/messages/bulk/"), files))
        elapsed = time.perf_counter() - started
        http_bulk = {
            "files": len(files),
            "messages": len(bulk),
            "per_second": round(len(bulk) / elapsed, 1),
            "accepted": sum(
                1
                for _ms, response in bulk_results
                for r in response.json()["results"]
                if r["http_status"] == 202
            ),
            "p50_file_ms": round(percentile([r[0] for r in bulk_results], 0.5), 1),
            "p99_file_ms": round(percentile([r[0] for r in bulk_results], 0.99), 1),
        }
    finally:
        web.terminate()
        try:
            web.wait(30)
        except subprocess.TimeoutExpired:
            web.kill()
            web.wait()

    participants = {bic: Participant.objects.select_related("home_csd").get(bic=bic) for bic in tokens}
    started, cpu = time.perf_counter(), time.process_time()
    file_latencies = []
    for bic, payload, content_type, _n in bulk_files(in_process):
        t0 = time.perf_counter()
        messages_receive_bulk(participant=participants[bic], raw=payload, content_type=content_type)
        file_latencies.append((time.perf_counter() - t0) * 1000)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    in_process_bulk = {
        "messages": len(in_process),
        "per_second": round(len(in_process) / elapsed, 1),
        "cpu_ms_per_message": round(cpu * 1000 / len(in_process), 3),
        "p50_file_ms": round(percentile(file_latencies, 0.5), 1),
    }

    ids = list(Instruction.objects.order_by("pk").values_list("pk", flat=True))
    started = time.perf_counter()
    match_latencies = []
    for start in range(0, len(ids), args.bulk_size):
        t0 = time.perf_counter()
        instructions_match(instruction_ids=ids[start : start + args.bulk_size])
        match_latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    transfers = Transfer.objects.count()
    matching = {
        "instructions": len(ids),
        "transfers": transfers,
        "per_second": round(transfers / elapsed, 1),
        "batch_size": args.bulk_size,
        "p50_batch_ms": round(percentile(match_latencies, 0.5), 1),
    }
    matching["matched_pairs"] = Instruction.objects.filter(status="MATCHED").count() // 2

    print(
        json.dumps(
            {
                "bench": "intake",
                "database": "postgresql",
                "web_workers": args.web_workers,
                "clients": args.clients,
                "instructions_accepted_total": Instruction.objects.count(),
                "http_single": http_single,
                "http_bulk": http_bulk,
                "in_process_bulk": in_process_bulk,
                "matching": matching,
                "baseline_in_process_parse": baseline,
                "http_single_vs_baseline": round(http_single["per_second"] / baseline["per_second"], 4),
                "peak_rss_mb": {
                    "bench": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                    "web_worker_max": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
                },
                "median_parse_ms": round(statistics.median(parse_latencies), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
