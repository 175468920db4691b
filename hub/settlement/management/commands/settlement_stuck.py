"""List the transfers that wait on an operator, longest held first, with what holds each: a CSD that
refuses to post a leg after the commit decision was anchored, or to release one; answers that leave a
leg's outcome unknown; a block its CSDs do not endorse; a CSD that does not answer. Then how many
transfers are overdue (due, and no run has taken them). Exits 1 when there is any, so a scheduler or a
check can act on it; ``/health/`` reports the same."""

import datetime as dt
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from hub.settlement.selectors import transfers_counted, transfers_overdue, transfers_stuck


class Command(BaseCommand):
    help = "List the transfers stuck past the anchor or while releasing, and count the overdue ones."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="SECONDS",
            help="how long in PREPARED, COMMITTING or ABORTING counts as stuck "
            "(default SETTLEMENT_STUCK_ALERT_SECONDS)",
        )
        parser.add_argument("--limit", type=int, default=1000, help="transfers listed at most (default 1000)")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="one JSON object instead of text"
        )

    def handle(self, *args, older_than: int | None, limit: int, as_json: bool, **options) -> None:
        if older_than is not None and older_than < 0:
            raise CommandError("--older-than takes a number of seconds, 0 or more")
        if limit < 1:
            raise CommandError("--limit takes a number of transfers, 1 or more")
        seconds = settings.SETTLEMENT_STUCK_ALERT_SECONDS if older_than is None else older_than
        now = timezone.now()
        count, stuck = transfers_stuck(now=now, older_than=dt.timedelta(seconds=seconds), limit=limit)
        overdue, oldest = transfers_overdue(
            now=now, by=dt.timedelta(seconds=settings.SETTLEMENT_OVERDUE_ALERT_SECONDS)
        )
        if as_json:
            self.stdout.write(_as_json(count, stuck, overdue, oldest))
        else:
            self._as_text(count, stuck, overdue, oldest, seconds)
        if count or overdue:
            raise SystemExit(1)

    def _as_text(self, count, stuck, overdue, oldest, seconds: int) -> None:
        if not count:
            self.stdout.write(f"No transfer stuck (held over {seconds}s past the anchor or while releasing).")
        else:
            shown = f", the {len(stuck)} held longest below" if len(stuck) < count else ""
            self.stdout.write(f"{transfers_counted(count)} stuck{shown}:")
        for item in stuck:
            self.stdout.write(f"  {item.described()}")
            for leg in item.legs:
                reason = f", last refused {leg.reason_code}" if leg.reason_code else ""
                self.stdout.write(f"    leg {leg.leg_id} at {leg.csd}: {leg.status}{reason}")
        if overdue:
            self.stdout.write(
                f"{transfers_counted(overdue)} overdue by over "
                f"{settings.SETTLEMENT_OVERDUE_ALERT_SECONDS}s, the oldest due since "
                f"{oldest.isoformat(timespec='seconds')}: no run has taken them (are the workers and beat "
                "running, and keeping up?)"
            )


def _as_json(count, stuck, overdue, oldest) -> str:
    return json.dumps(
        {
            "stuck": count,
            "transfers": [
                {
                    "transfer": item.transfer_id,
                    "status": item.status,
                    "since": item.since.isoformat() if item.since else None,
                    "explanation": item.explanation(),
                    "legs": [
                        {
                            "leg_id": leg.leg_id,
                            "csd": leg.csd,
                            "status": leg.status,
                            "reason_code": leg.reason_code,
                        }
                        for leg in item.legs
                    ],
                }
                for item in stuck
            ],
            "overdue": overdue,
            "oldest_due_at": oldest.isoformat() if oldest else None,
        }
    )
