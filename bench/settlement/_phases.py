"""Where each role's CPU goes, function by function, for ``run.py --phases``.

Sampling profilers mislead here: py-spy's ``--gil`` mode charges a sample to the last thread that held the
GIL, so time spent waiting on PostgreSQL or a CSD shows up in whatever Python ran before it, and a
deterministic profiler (cProfile, yappi) costs so much per call that it inflates the call-heavy code
(the ORM, message writers) several times over. This measures what the bench asks instead: the CPU time
of the calling thread (``time.thread_time``) inside a chosen set of functions, inclusive of what they
call, summed per process. About two clock reads a call: a few microseconds a transfer in all.

Run as a wrapper in front of a module (``python _phases.py -m celery ...``): it installs an import hook
that wraps the functions below as their modules load (before any other module imports them by name),
then runs the module as ``python -m`` would. Each process writes its sums every half second to
``$BENCH_PHASES_DIR/<pid>.json``, with its process group, which is how ``run.py`` knows its role.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import json
import os
import runpy
import sys
import threading
import time
from pathlib import Path

# module -> functions (``Class.method`` for a method); a module's _STEPS table is wrapped entry by entry
FUNCTIONS = {
    "hub.settlement.bulk": ["messages_receive_bulk"],
    "hub.settlement.intake": ["messages_receive", "_parse", "_Run.receive", "_Run._answer"],
    "hub.settlement.services": [
        "instructions_submit",
        "ReferenceData.__init__",
        "instructions_match",
        "_match_round",
        "_pairs",
        "instructions_status_set",
        "transfers_status_set",
    ],
    "hub.settlement.protocol": [
        "transfers_advance",
        "transfers_claim",
        "_load",
        "_legs_of",
        "_hand_back",
        "transfers_release_committable",
    ],
    "hub.messaging.services": [
        "inbound_record_many",
        "inbound_answer_many",
        "outbound_enqueue_many",
        "outbound_enqueue_rendered_many",
    ],
    "hub.messaging.rendering": ["render"],
    "hub.ledger.services": ["blocks_seal_and_finalise", "blocks_seal_pending", "_block_endorsements"],
    "hub.rows": ["rows_insert", "rows_append", "rows_update"],
    "csd_adapters.messaging": [
        "MessagingAdapter._run_many",
        "MessagingAdapter._exchange_many",
        "MessagingAdapter._encode",
        "MessagingAdapter._decode",
    ],
    "csd_adapters.transport": ["HttpTransport._send"],
    "csd_adapters.reference_csd.service": [
        "ReferenceCsd.__call__",
        "ReferenceCsd._read",
        "ReferenceCsd._answer",
        "ReferenceCsd._instruction",
        "ReferenceCsd._movement",
    ],
    "csd_adapters.reference_csd.dialects": [
        "MxDialect.read",
        "MxDialect.write",
        "MtDialect.read",
        "MtDialect.write",
    ],
    "csd_adapters.reference_csd.ledger": [
        "Ledger.in_batch",
        "Ledger.reserve",
        "Ledger.deliver",
        "Ledger.instruct",
    ],
}
STEPS_MODULE = "hub.settlement.protocol"
DUMP_EVERY = 0.5  # seconds

_sums: dict[str, list] = {}  # function -> [calls, thread CPU seconds]


def _timed(name: str, function):
    @functools.wraps(function)
    def timed(*args, **kwargs):
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            entry = _sums.get(name)
            if entry is None:
                entry = _sums[name] = [0, 0.0]
            entry[0] += 1
            entry[1] += time.thread_time() - started

    return timed


def _wrap(module) -> None:
    for path in FUNCTIONS[module.__name__]:
        *owners, attribute = path.split(".")
        owner = module
        for name in owners:
            owner = getattr(owner, name)
        setattr(owner, attribute, _timed(f"{module.__name__}.{path}", getattr(owner, attribute)))
    if module.__name__ == STEPS_MODULE:
        steps = module._STEPS
        for status, step in list(steps.items()):
            steps[status] = _timed(f"{STEPS_MODULE} step {status}", step)


class _Loader(importlib.abc.Loader):
    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        _wrap(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in FUNCTIONS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def _dump(directory: Path) -> None:
    pid = os.getpid()
    data = {"pgid": os.getpgid(0), "sums": {name: list(entry) for name, entry in list(_sums.items())}}
    part = directory / f"{pid}.json.part"
    part.write_text(json.dumps(data))
    part.replace(directory / f"{pid}.json")


def _dumping(directory: Path) -> None:
    def loop() -> None:
        while True:
            time.sleep(DUMP_EVERY)
            _dump(directory)

    threading.Thread(target=loop, daemon=True, name="bench-phases").start()


def install(directory: Path) -> None:
    sys.meta_path.insert(0, _Finder())
    _dumping(directory)

    def in_child() -> None:  # a forked worker counts for itself, from nothing
        _sums.clear()
        _dumping(directory)

    os.register_at_fork(after_in_child=in_child)


def read(directory: Path) -> dict[int, dict]:
    """Every process's sums as last written: by pid, with its process group."""
    found = {}
    for path in directory.glob("*.json"):
        try:
            found[int(path.stem)] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced this instant: the next read has it
    return found


def breakdown(before: dict, after: dict, role_of: dict[int, str], settled: int, top: int = 14) -> dict:
    """Milliseconds of CPU per settled transfer inside each function, by role, between two ``read``s;
    each role's ``top`` dearest functions (inclusive: a function's figure holds its callees')."""
    totals: dict[str, dict[str, float]] = {}
    for pid, data in after.items():
        role = role_of.get(data["pgid"])
        if role is None:
            continue
        earlier = before.get(pid, {}).get("sums", {})
        sums = totals.setdefault(role, {})
        for name, (_calls, seconds) in data["sums"].items():
            spent = seconds - earlier.get(name, [0, 0.0])[1]
            sums[name] = sums.get(name, 0.0) + spent
    return {
        role: {
            name: round(seconds * 1000 / max(settled, 1), 3)
            for name, seconds in sorted(sums.items(), key=lambda item: -item[1])[:top]
            if seconds > 0
        }
        for role, sums in sorted(totals.items())
        if any(seconds > 0 for seconds in sums.values())
    }


def main() -> None:
    """``_phases.py -m module args...``: ``python -m module args...``, measured."""
    if len(sys.argv) < 3 or sys.argv[1] != "-m":
        raise SystemExit("usage: _phases.py -m module [args...]")
    sys.path[0] = str(Path(__file__).resolve().parents[2])  # the project in place of this folder, as -m
    install(Path(os.environ["BENCH_PHASES_DIR"]))
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
