"""Settlement before and after: the settlement bench run in turn on a baseline revision and on this checkout.

Run: ``.venv/bin/python bench/settlement/compare.py --baseline REV [--pairs 6] [--count 2000]``. Prints
ONE JSON line; asserts nothing about time. Not part of ``make bench``: it needs a baseline to compare with.

On a machine whose speed drifts from one minute to the next (a shared host), one run of each side compares
the machine's moments, not the code. Here the two sides run alternately, baseline first in each pair, so
that both meet the same drift; the figures are the medians over the runs of each side, and the median of
the ratios within pairs (head over baseline: above 1 for ``settled_per_second`` is faster, below 1 for
``cpu_ms_total`` is cheaper). The baseline is checked out with ``git worktree`` in a temporary folder and
run with this checkout's interpreter and environment (the same database, broker and settings), then
removed. Each side runs its own revision's bench script, trade plan included.

The drift is large (a quarter between runs minutes apart) and need not be fair to both sides: the head ran
in the slower moment in most pairs of some sessions. ``hub_cpu_over_reference_csd_cpu`` corrects for it:
the reference CSDs run the same code on both sides and get the same messages for the same trade plan, so
their CPU per transfer measures the machine's moment, and within a pair the head's hub CPU (all but the
reference CSDs) over the baseline's, divided by the same ratio for the reference CSDs, is the change's own
effect (below 1 is cheaper). It holds only while the change leaves the reference CSDs and what the hub
sends them alone.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench._support import exit_on_sigterm  # noqa: E402

BENCH = Path("bench/settlement/run.py")
# both sides keep their database connections for the run, as the bench does since it set this itself: a
# baseline's bench from before then would leave the backends the hub recycles each minute out of its
# PostgreSQL figure, and the head would look dearer by that much
os.environ.setdefault("DB_CONN_MAX_AGE", "3600")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def bench_once(tree: Path, count: int) -> dict:
    """One run of the tree's settlement bench; its stderr is this process's. Interrupted, this waits while
    the bench stops its servers and drops its database: Ctrl-C reaches the bench too (it is in this process
    group); on SIGTERM the bench is sent Ctrl-C's SIGINT, which a baseline revision's bench handles too."""
    with subprocess.Popen(
        [sys.executable, str(tree / BENCH), "--count", str(count)],
        cwd=tree,
        stdout=subprocess.PIPE,
        text=True,
    ) as bench:
        try:
            stdout, _ = bench.communicate()
        except KeyboardInterrupt:
            bench.wait()
            raise
        except BaseException:
            bench.send_signal(signal.SIGINT)
            bench.wait()
            raise
    if bench.returncode:
        raise subprocess.CalledProcessError(bench.returncode, bench.args)
    figures = json.loads(stdout.strip().splitlines()[-1])
    cpu = figures["cpu_ms_per_settled_transfer"]
    return {
        "settled_per_second": figures["settled_per_second"],
        "settled": figures["settled"],
        "failed": figures["failed"],
        "p50_ms": figures["matched_to_settled"]["p50_ms"],
        "p99_ms": figures["matched_to_settled"]["p99_ms"],
        "cpu_ms_total": cpu["total"],
        **{f"cpu_ms_{role}": cpu[role] for role in ("postgresql", "worker", "web", "reference_csd")},
        "postgresql_single_row_commits_per_s": figures["baseline_postgresql"]["single_row_commits_per_s"],
    }


def drift_corrected(baseline: dict, head: dict) -> float:
    """The head's hub CPU per transfer over the baseline's, in the reference CSDs' CPU as the unit of the
    machine's speed at each run."""
    hub = (head["cpu_ms_total"] - head["cpu_ms_reference_csd"]) / (
        baseline["cpu_ms_total"] - baseline["cpu_ms_reference_csd"]
    )
    return hub / (head["cpu_ms_reference_csd"] / baseline["cpu_ms_reference_csd"])


def medians(runs: list[dict]) -> dict:
    return {key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="a git revision: a commit, a tag, HEAD~3 ...")
    parser.add_argument("--pairs", type=int, default=6, help="runs of each side")
    parser.add_argument("--count", type=int, default=2000, help="transfers a run")
    args = parser.parse_args()
    exit_on_sigterm()  # the worktree is removed on SIGTERM too

    baseline_sha = git("rev-parse", "--verify", f"{args.baseline}^{{commit}}")
    head_sha = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    runs: dict[str, list[dict]] = {"baseline": [], "head": []}
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as scratch:
        tree = Path(scratch) / "baseline"
        git("worktree", "add", "--detach", str(tree), baseline_sha)
        try:
            for pair in range(args.pairs):
                runs["baseline"].append(bench_once(tree, args.count))
                runs["head"].append(bench_once(ROOT, args.count))
                print(
                    f"pair {pair + 1}/{args.pairs}: baseline {runs['baseline'][-1]['settled_per_second']}/s, "
                    f"head {runs['head'][-1]['settled_per_second']}/s",
                    file=sys.stderr,
                )
        finally:
            git("worktree", "remove", "--force", str(tree))
    ratios = {
        key: round(
            statistics.median(
                h[key] / b[key] for b, h in zip(runs["baseline"], runs["head"], strict=True) if b[key]
            ),
            3,
        )
        for key in ("settled_per_second", "cpu_ms_total", "p50_ms")
    }
    ratios["hub_cpu_over_reference_csd_cpu"] = round(
        statistics.median(drift_corrected(b, h) for b, h in zip(runs["baseline"], runs["head"], strict=True)),
        3,
    )
    print(
        json.dumps(
            {
                "bench": "settlement.compare",
                "baseline": {"revision": args.baseline, "commit": baseline_sha},
                "head": {"commit": head_sha, "uncommitted_changes": dirty},
                "pairs": args.pairs,
                "transfers_a_run": args.count,
                "baseline_medians": medians(runs["baseline"]),
                "head_medians": medians(runs["head"]),
                "head_over_baseline_median_ratio": ratios,
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
