"""Legs per second (prepare + commit) through each CSD adapter, printed as one JSON line.

For each standard (MX with NSD's profile, MT with Strate's), the same number of legs goes:

- ``http``: through the adapter to a reference CSD served by its own process over HTTP on 127.0.0.1;
- ``in_process``: through the adapter and the same messages, the CSD's WSGI application called in process;

- ``http_batched``: through the adapter's ``prepare_many`` then ``commit_many``, ``--batch`` legs at a time,
  in bulk files (``POST /messages/bulk``) to the same server; its named baseline is ``http``, one leg per
  request (``http_batched_vs_http``);

and, as the named baseline of the others, ``ledger``: the same prepare and commit called straight on a
reference ledger, without messages or HTTP. ``ledger_ms_per_op``: the ledger's own cost of one reserve,
deliver and release, each in its own transaction and inside one batch transaction. CPU per leg (prepare
and commit, µs): ``in_process_bulk``, the CSD's own on its bulk route called in process, and
``http_batched.server_cpu_us_per_leg``, the server's processes' over HTTP. Each CSD has its own
SQLite database in a temporary folder, removed at the end (``--database-dir`` to choose one, kept).
Figures: legs/s, latency p50/p99 in ms (per leg; per batch for ``http_batched``), and peak memory (max RSS
of this process and of the server process). Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench._support import exit_on_sigterm, free_port, percentile, signals_held, wait_until_up  # noqa: E402
from csd_adapters.base import Leg  # noqa: E402
from csd_adapters.inprocess import LedgerAdapter  # noqa: E402
from csd_adapters.profiles import profile_for  # noqa: E402
from csd_adapters.reference_csd.ledger import Ledger, seed_document  # noqa: E402
from csd_adapters.reference_csd.service import ReferenceCsd  # noqa: E402
from csd_adapters.registry import adapter_for  # noqa: E402
from csd_adapters.transport import WsgiTransport  # noqa: E402

ISIN = "XS000BENCH03"  # with its check digit
ACCOUNTS = ("BENCH-A-OWN", "BENCH-B-OWN")


def opening() -> dict:
    return seed_document(
        [("ISSUANCE", "ISSUANCE"), (ACCOUNTS[0], "OWN"), (ACCOUNTS[1], "OWN")],
        [("ISSUANCE", ISIN, Decimal(-(10**9))), (ACCOUNTS[0], ISIN, Decimal(10**9))],
    )


def legs(code: str, count: int) -> list[Leg]:
    run = uuid.uuid4().hex[:6].upper()
    return [
        Leg(
            leg_id=f"B{run}{n:07d}",
            csd=code,
            isin=ISIN,
            quantity=Decimal(1),
            debit_account=ACCOUNTS[0],
            credit_account=ACCOUNTS[1],
            intended_settlement_date=dt.date.today(),
            transfer_reference=f"T{run}{n}",
        )
        for n in range(count)
    ]


def measure(adapter, batch: list[Leg], warmup: int = 30) -> dict:
    """Prepare and commit every leg of ``batch`` in turn, after ``warmup`` legs that are not counted."""
    for leg in legs(batch[0].csd, warmup):
        adapter.prepare(leg)
        adapter.commit(leg)
    latencies = []
    started = time.perf_counter()
    for leg in batch:
        t0 = time.perf_counter()
        adapter.prepare(leg)
        adapter.commit(leg)
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "legs": len(batch),
        "legs_per_s": round(len(batch) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
    }


def measure_batched(adapter, batch: list[Leg], size: int) -> dict:
    """Prepare then commit ``batch`` in batches of ``size`` legs, after one batch that is not counted."""
    for results in (adapter.prepare_many(w := legs(batch[0].csd, size)), adapter.commit_many(w)):
        _settled(results)
    latencies = []
    started = time.perf_counter()
    for first in range(0, len(batch), size):
        chunk = batch[first : first + size]
        t0 = time.perf_counter()
        _settled(adapter.prepare_many(chunk))
        _settled(adapter.commit_many(chunk))
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "legs": len(batch),
        "batch": size,
        "legs_per_s": round(len(batch) / elapsed, 1),
        "batch_p50_ms": round(statistics.median(latencies), 3),
        "batch_p99_ms": round(percentile(latencies, 0.99), 3),
    }


class _CpuMeter:
    """Wraps a ``ReferenceCsd`` so the CPU time its ``handle_bulk`` spends (thread time: the CSD's own
    work, not the adapter's) is summed in ``seconds``."""

    def __init__(self, csd: ReferenceCsd) -> None:
        self.seconds = 0.0
        handle = csd.handle_bulk

        def measured(data: bytes) -> list[bytes]:
            started = time.thread_time()
            try:
                return handle(data)
            finally:
                self.seconds += time.thread_time() - started

        csd.handle_bulk = measured


def measure_bulk_cpu(adapter, meter: _CpuMeter, batch: list[Leg], size: int) -> dict:
    """µs of the CSD's CPU per leg (prepare + commit) on its bulk route, in process."""
    for w in (legs(batch[0].csd, size),):
        _settled(adapter.prepare_many(w))
        _settled(adapter.commit_many(w))
    meter.seconds = 0.0
    for first in range(0, len(batch), size):
        chunk = batch[first : first + size]
        _settled(adapter.prepare_many(chunk))
        _settled(adapter.commit_many(chunk))
    return {
        "legs": len(batch),
        "batch": size,
        "csd_cpu_us_per_leg": round(meter.seconds * 1e6 / len(batch), 1),
    }


def _session_cpu(session: int) -> float:
    """CPU seconds (user + system) of the live processes of one session (the server and its workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # fields after the name: state, ppid, pgrp, session, ...
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _settled(results) -> None:
    refused = [r for r in results if r.error is not None]
    if refused:
        raise SystemExit(f"the benchmark's legs were refused: {refused[0].error!r}")


def ledger_costs(ledger: Ledger, count: int) -> dict:
    """ms per reserve, deliver and release on the ledger itself: alone, then all inside one batch."""
    figures = {}
    for mode in ("alone", "batched"):
        run = uuid.uuid4().hex[:6].upper()
        timings = {}
        with ledger.batch() if mode == "batched" else contextlib.nullcontext():
            for op in ("reserve", "deliver", "reserve_again", "release"):
                started = time.perf_counter()
                for n in range(count):
                    common = {"account": ACCOUNTS[0], "isin": ISIN, "quantity": Decimal(1)}
                    if op == "reserve":
                        ledger.reserve(reference=f"C{run}{n}", **common)
                    elif op == "deliver":
                        ledger.deliver(reference=f"C{run}{n}", credit_account=ACCOUNTS[1], **common)
                    elif op == "reserve_again":
                        ledger.reserve(reference=f"A{run}{n}", **common)
                    else:
                        ledger.release(reference=f"A{run}{n}", **common)
                timings[op] = (time.perf_counter() - started) * 1000 / count
        figures[mode] = {op: round(timings[op], 3) for op in ("reserve", "deliver", "release")}
    return figures


def serve(code: str, database: str, port: int) -> subprocess.Popen:
    """The reference CSD in a process of its own; the caller stops it (``stop``)."""
    with signals_held():
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "csd_adapters.reference_csd",
                "serve",
                "--csd",
                code,
                "--port",
                str(port),
                "--database",
                database,
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop(server: subprocess.Popen) -> None:
    """The server and every process of its session."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legs", type=int, default=300, help="legs per measurement")
    parser.add_argument("--batch", type=int, default=250, help="legs per batch (http_batched)")
    parser.add_argument("--batched-legs", type=int, default=3000, help="legs for http_batched")
    parser.add_argument("--database-dir", type=Path, default=None)
    args = parser.parse_args()
    exit_on_sigterm()
    if args.database_dir is not None:
        args.database_dir.mkdir(parents=True, exist_ok=True)
        run(args, args.database_dir)
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-csd-"))
    try:
        run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, folder: Path) -> None:
    """The bench, its databases in ``folder``."""
    results: dict = {
        "bench": "csd_adapters",
        "legs": args.legs,
        "database": "sqlite",
        "baseline": "ledger",
        "batched_baseline": "http",
    }
    for code in ("NSD", "STRATE"):
        profile = profile_for(code)
        figures = {}

        ledger = Ledger(f"sqlite:///{folder / f'{code}-ledger.sqlite3'}", timezone=profile.timezone)
        ledger.seed(opening())
        figures["ledger"] = measure(LedgerAdapter(ledger=ledger, csd=code), legs(code, args.legs))
        figures["ledger_ms_per_op"] = ledger_costs(ledger, args.legs)
        in_process = ReferenceCsd(profile, ledger)
        adapter = adapter_for(profile.adapter, profile=profile, transport=WsgiTransport(in_process))
        figures["in_process"] = measure(adapter, legs(code, args.legs))
        meter = _CpuMeter(in_process)
        figures["in_process_bulk"] = measure_bulk_cpu(
            adapter, meter, legs(code, args.batched_legs), args.batch
        )
        ledger.close()

        database = f"sqlite:///{folder / f'{code}-http.sqlite3'}"
        seeding = Ledger(database, timezone=profile.timezone)
        seeding.seed(opening())
        seeding.close()
        port = free_port()
        server = serve(code, database, port)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/health", what=f"the {code} reference CSD", timeout=30)
            adapter = adapter_for(profile.adapter, profile=profile, base_url=f"http://127.0.0.1:{port}")
            figures["http"] = measure(adapter, legs(code, args.legs))
            cpu_before = _session_cpu(server.pid)
            figures["http_batched"] = measure_batched(adapter, legs(code, args.batched_legs), args.batch)
            figures["http_batched"]["server_cpu_us_per_leg"] = round(
                (_session_cpu(server.pid) - cpu_before) * 1e6 / args.batched_legs, 1
            )
        finally:
            stop(server)
        figures["http_vs_ledger"] = round(figures["http"]["legs_per_s"] / figures["ledger"]["legs_per_s"], 3)
        figures["http_batched_vs_http"] = round(
            figures["http_batched"]["legs_per_s"] / figures["http"]["legs_per_s"], 2
        )
        results[f"{profile.adapter}_{code}"] = figures
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    results["server_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
