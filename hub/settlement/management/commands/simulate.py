"""``manage.py simulate --count N --rate R``: cross-CSD traffic through the running hub's message API."""

import json
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from django.core.management.base import BaseCommand, CommandError

from hub.registry.models import Participant
from hub.registry.services import participant_token_issue
from hub.settlement.simulation import simulation_summary, trade_messages, trades_plan


class Command(BaseCommand):
    help = (
        "Send realistic cross-CSD trades between the demo participants through the hub's message API (the "
        "three leg cases, some beyond what the deliverer holds), show progress, then summarise: settled, "
        "failed by reason, pending."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, default=100, help="trades (two instructions each)")
        parser.add_argument("--rate", type=float, default=20.0, help="trades sent per second")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the running hub")
        parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
        parser.add_argument("--lack-share", type=float, default=0.05, help="share of trades beyond holdings")
        parser.add_argument("--seed", type=int, default=None, help="for a repeatable mix")
        parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for settlement")
        parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line")
        parser.add_argument(
            "--startup-wait", type=float, default=0, help="seconds to wait for the hub to be up"
        )

    def handle(
        self,
        *args,
        count: int,
        rate: float,
        base_url: str,
        clients: int,
        lack_share: float,
        seed: int | None,
        wait: float,
        json: bool,
        startup_wait: float,
        **options,
    ) -> None:
        if count < 1 or rate <= 0 or not 0 <= lack_share <= 1:
            raise CommandError("--count >= 1, --rate > 0 and 0 <= --lack-share <= 1")
        self._wait_for_hub(base_url, startup_wait)
        prefix = f"SIM{uuid.uuid4().hex[:5].upper()}"
        trades = trades_plan(
            count=count,
            lack_share=lack_share,
            seed=seed if seed is not None else time.time_ns(),
            prefix=prefix,
        )
        senders = {party.bic for trade in trades for party in (trade.deliverer, trade.receiver)}
        tokens = {
            p.bic: participant_token_issue(participant=p, label=f"simulate {prefix}")
            for p in Participant.objects.filter(bic__in=senders)
        }
        sent = Counter()
        local = threading.local()
        started = time.monotonic()

        def send(index: int) -> None:
            time.sleep(max(0.0, started + index / rate - time.monotonic()))  # paced at --rate
            if not hasattr(local, "session"):
                local.session = requests.Session()
            for bic, body, content_type in trade_messages(trades[index]):
                try:
                    response = local.session.post(
                        f"{base_url}/api/v1/messages/",
                        data=body,
                        timeout=30,
                        headers={"Authorization": f"Token {tokens[bic]}", "Content-Type": content_type},
                    )
                    sent.add("accepted" if response.status_code == 202 else f"http {response.status_code}")
                except requests.RequestException as exc:
                    sent.add(f"error {type(exc).__name__}")

        with ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(send, i) for i in range(count)]
            while not all(f.done() for f in futures):
                self._progress(sent.total(), 2 * count, prefix, trades)
                time.sleep(0.5)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            summary = simulation_summary(prefix=prefix, trades=trades)
            self._progress(2 * count, 2 * count, prefix, trades, summary)
            waiting_for_cutoff = sum(n for state, n in summary.pending.items() if state.endswith("/LACK"))
            if (
                summary.terminal + waiting_for_cutoff >= summary.matched
                and summary.matched >= summary.trades - (summary.instructions_rejected)
            ):
                break
            time.sleep(1)
        sys.stderr.write("\n")
        summary = simulation_summary(prefix=prefix, trades=trades)
        elapsed = time.monotonic() - started
        for line in summary.lines():
            self.stdout.write(line)
        self.stdout.write(f"sent: {dict(sent.items())}; elapsed {elapsed:.1f}s")
        if json:
            self.stdout.write(json_line(summary, sent.items(), elapsed, prefix))

    def _wait_for_hub(self, base_url: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if requests.get(f"{base_url}/health/?worker=false", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                if seconds:
                    raise CommandError(f"the hub at {base_url} did not come up within {seconds:.0f}s")
                return
            time.sleep(1)

    def _progress(self, done: int, total: int, prefix: str, trades, summary=None) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        settled = f", settled {summary.settled}, failed {sum(summary.failed.values())}" if summary else ""
        sys.stderr.write(
            f"\r{prefix} [{'#' * filled}{'.' * (width - filled)}] sent {done}/{total}{settled}   "
        )
        sys.stderr.flush()


class Counter:
    """A thread-safe tally."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, key: str) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def items(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def json_line(summary, sent: dict, elapsed: float, prefix: str) -> str:
    return json.dumps(
        {
            "run": prefix,
            "elapsed_s": round(elapsed, 2),
            "sent": sent,
            "trades": summary.trades,
            "settled": summary.settled,
            "failed": summary.failed,
            "pending": summary.pending,
            "cases": summary.cases,
        }
    )
