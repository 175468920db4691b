"""Shared ledger throughput, printed as one JSON line.

- ``local``: entries sealed per second with the local backend (Merkle root, hub signature, one bulk update
  per block of ``--block-size`` entries), after a bulk append; block latency p50/p99.
- ``evm``: transfers anchored per second through the EVM backend on anvil (JSON-RPC on 127.0.0.1),
  each transfer's COMMIT entry appended, sealed, endorsed and its block's root anchored and confirmed:
  ``batched`` (``--evm-block-size`` transfers per block, so one EVM transaction per block) against the
  baseline ``one_tx_per_transfer`` (a block, and so a transaction, per transfer), in the same run;
  latency per transfer from its append to its root's receipt. The baseline's EVM time alone is given too
  (``evm_transactions_per_s``), and the batched rate against it, a stricter ratio.

The database is a throwaway one: on the server of ``DATABASE_URL`` when set (PostgreSQL), else a SQLite
file in a temporary folder (with the development keys; removed at the end). Peak memory is this process's
max RSS. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
TEMP = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
os.environ.setdefault("SECRET_KEY", "bench-ledger-not-a-secret")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["LEDGER_KEY_DIR"] = str(TEMP / "keys")
os.environ["LEDGER_GENERATE_DEV_KEYS"] = "true"
os.environ["HUB_VAR_DIR"] = str(TEMP)

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

from bench._support import drop_database, exit_on_sigterm, percentile, signals_held  # noqa: E402

ANVIL = ROOT / "node_modules" / ".bin" / "anvil"


def latency(values: list[float]) -> dict:
    return {
        "p50_ms": round(percentile(values, 0.5) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
    }


def drafts(count: int, start: int):
    from hub.ledger.services import EntryDraft

    pairs = (("NSD", "STRATE"), ("STRATE", "CSCS"), ("NSD", "KACD"))
    return [
        EntryDraft(
            "COMMIT",
            f"T-{n:08d}",
            pairs[n % 3],
            {"transfer": f"T-{n:08d}", "isin": "RU0009029540", "quantity": f"{n % 997}.25", "legs": 2},
        )
        for n in range(start, start + count)
    ]


def bench_local(entries: int, block_size: int) -> dict:
    from hub.ledger import selectors, services

    services.entries_append(drafts=drafts(10, 0))
    services.blocks_seal_pending()  # the chain's first block and the hub's key: not part of the figures
    started = time.perf_counter()
    for offset in range(0, entries, 20_000):
        services.entries_append(drafts=drafts(min(20_000, entries - offset), 100 + offset))
    appended = time.perf_counter() - started
    per_block = []
    started = time.perf_counter()
    while True:
        block_started = time.perf_counter()
        block = services.block_seal(max_entries=block_size)
        if block is None:
            break
        per_block.append(time.perf_counter() - block_started)
    sealed = time.perf_counter() - started
    started = time.perf_counter()
    for block in selectors.blocks_missing_endorsements():
        services.block_endorse(block=block)
    endorsed = time.perf_counter() - started
    return {
        "entries": entries,
        "block_size": block_size,
        "blocks": len(per_block),
        "entries_sealed_per_s": round(entries / sealed),
        "entries_appended_per_s": round(entries / appended),
        "block_seal_latency": latency(per_block),
        "blocks_endorsed_per_s": round(len(per_block) / endorsed, 1),
    }


def start_anvil() -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with signals_held():
        process = subprocess.Popen(
            [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    return process, f"http://127.0.0.1:{port}"


def wait_for_anvil(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.post(
                url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=2
            )
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit("anvil did not start; run `npm ci` (make bench does)")


def anchored_transfers(anchorer, transfers: int, block_size: int, start: int) -> dict:
    """Transfers arrive in waves of ``block_size``; each wave is sealed, endorsed and anchored."""
    from hub.ledger import services

    latencies, transactions, anchoring = [], 0, 0.0
    started = time.perf_counter()
    for offset in range(0, transfers, block_size):
        wave = min(block_size, transfers - offset)
        arrived = time.perf_counter()
        services.entries_append(drafts=drafts(wave, start + offset))
        for block in services.blocks_seal_pending(max_entries=block_size):
            services.block_endorse(block=block)
            sent = time.perf_counter()
            services.block_anchor(block=block, anchorer=anchorer)
            anchoring += time.perf_counter() - sent
            transactions += 1
        latencies += [time.perf_counter() - arrived] * wave
    elapsed = time.perf_counter() - started
    return {
        "transfers": transfers,
        "block_size": block_size,
        "evm_transactions": transactions,
        "transfers_anchored_per_s": round(transfers / elapsed, 1),
        "latency": latency(latencies),
        # the EVM part alone (send, receipt, read-back): what one transaction per transfer costs at best
        "evm_transactions_per_s": round(transactions / anchoring, 1),
    }


def bench_evm(batched: int, batch_size: int, single: int) -> dict:
    from eth_account import Account

    from hub.ledger import evm
    from hub.ledger.models import EvmAnchor

    process, url = start_anvil()
    try:
        wait_for_anvil(url)
        w3 = evm.connect(url, timeout=10)
        hub = Account.create()
        w3.provider.make_request("anvil_setBalance", [hub.address, hex(10**22)])
        address = evm.contract_deploy(w3=w3, account=hub)
        anchorer = evm.Anchorer(w3=w3, contract_address=address, account=hub, poll_interval=0.005)
        one_each = anchored_transfers(anchorer, single, 1, 10_000_000)
        batches = anchored_transfers(anchorer, batched, batch_size, 20_000_000)
        anchored = EvmAnchor.objects.filter(status=EvmAnchor.Status.CONFIRMED).count()
    finally:
        # the session: node_modules/.bin/anvil is a node script that runs the anvil binary as its child
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return {
        "node": "anvil (automine), JSON-RPC on 127.0.0.1",
        "evm_version": settings.LEDGER_EVM_VERSION,
        "batched": batches,
        "one_tx_per_transfer": one_each,
        "blocks_confirmed": anchored,
        "ratio_batched_vs_one_tx_per_transfer": round(
            batches["transfers_anchored_per_s"] / one_each["transfers_anchored_per_s"], 1
        ),
        # against the bare rate of anchoring transactions, sealing and endorsing per transfer left out
        "ratio_batched_vs_bare_evm_transaction_rate": round(
            batches["transfers_anchored_per_s"] / one_each["evm_transactions_per_s"], 1
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--block-size", type=int, default=10_000)
    parser.add_argument("--evm-transfers", type=int, default=20_000)
    parser.add_argument("--evm-block-size", type=int, default=2_000)
    parser.add_argument("--evm-single-transfers", type=int, default=200)
    args = parser.parse_args()
    exit_on_sigterm()
    try:
        run(args)
    finally:
        shutil.rmtree(TEMP, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    test = connection.settings_dict["TEST"]  # a throwaway database beside the configured one
    test["NAME"] = (
        str(TEMP / "bench.sqlite3") if connection.vendor == "sqlite" else f"bench_ledger_{os.getpid()}"
    )
    old = None
    try:
        old = setup_databases(verbosity=0, interactive=False)
        local = bench_local(args.entries, args.block_size)
        chain = bench_evm(args.evm_transfers, args.evm_block_size, args.evm_single_transfers)
        from hub.ledger import selectors

        report = selectors.chain_verify()
        result = {
            "bench": "ledger",
            "database": connection.vendor,
            "local": local,
            "evm": chain,
            "chain_verified": report.first_break is None,
            "chain_first_break": str(report.first_break) if report.first_break else None,
            "targets": {"local_entries_sealed_per_s": 20_000, "evm_batched_vs_one_tx_ratio": 100},
            "ratio_local_vs_target": round(local["entries_sealed_per_s"] / 20_000, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    finally:
        if old is not None:
            teardown_databases(old, verbosity=0)
        if connection.vendor == "postgresql":  # interrupted while setup_databases made it, it is there
            drop_database(os.environ["DATABASE_URL"], name=test["NAME"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
