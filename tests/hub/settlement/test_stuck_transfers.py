"""Worked stories of the transfers that wait on an operator, as ``/health/`` and ``manage.py
settlement_stuck`` report them: held past the anchor or while releasing longer than
``SETTLEMENT_STUCK_ALERT_SECONDS``, a leg a CSD gives no usable answer for, and transfers due that no run
takes. The market's waits (a settlement date to come, securities to come) are not faults."""

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from hub.ledger.services import blocks_seal_and_finalise
from hub.ops import health
from hub.settlement import selectors
from hub.settlement.models import StatusEvent, Transfer
from hub.settlement.selectors import transfers_overdue, transfers_stuck

from .messages import NSD_A, STRATE_A, pair
from .test_csd_answers import NsdBehindALink, not_found, passed_on
from .test_protocol import NOON_IN_MOSCOW, advance_batch, matched

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def workers_up(monkeypatch):
    """``/health/`` as if a worker had answered its probe: these stories run no worker."""
    found = health.ComponentHealth(ok=True, detail="a worker answered the probe", latency_ms=1.0)
    monkeypatch.setattr(health.worker_probe, "result", lambda: found)


def on_the_real_clock() -> None:
    """The stories run the protocol on a fixed clock (noon in Moscow on 26 November 2026), which puts the
    due times it hands back weeks before the real clock's now: moved to the real clock's next minute, only
    what a story sets up is overdue."""
    Transfer.objects.filter(due_at__isnull=False).update(due_at=timezone.now() + dt.timedelta(minutes=1))


def entered_ago(transfer: Transfer, age: dt.timedelta) -> None:
    """Move the event of ``transfer``'s move into its status back by ``age``: as if held that long."""
    transfer.refresh_from_db()
    event = StatusEvent.objects.filter(transfer=transfer, to_status=transfer.status).latest("at")
    StatusEvent.objects.filter(pk=event.pk).update(at=event.at - age)


def stuck_now(older_than: dt.timedelta = HOUR):
    return transfers_stuck(now=timezone.now(), older_than=older_than)


def settlement_stuck(*args: str) -> tuple[int, str]:
    """``manage.py settlement_stuck``: its exit status and what it printed."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("settlement_stuck", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_a_csd_turning_the_posting_away_after_the_anchor_is_reported_at_once_until_it_posts(
    books, client, admin_client, workers_up
):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="STUCK-C"))
    advance_batch([transfer], books.adapter_for)
    blocks_seal_and_finalise()
    nsd = NsdBehindALink(books, not_found)
    advance_batch([transfer], nsd.adapter_for)
    on_the_real_clock()
    transfer.refresh_from_db()
    assert transfer.status == "COMMITTING"
    nsd_leg = transfer.legs.get(csd__code="NSD")

    count, (item,) = stuck_now()
    assert count == 1 and (item.transfer_id, item.status) == (transfer.pk, "COMMITTING")
    assert [(leg.csd, leg.leg_id, leg.status, leg.reason_code) for leg in item.legs] == [
        ("NSD", nsd_leg.leg_id, "PREPARED", "OTHR")  # Strate's leg is posted: only NSD's is listed
    ]
    assert f"NSD gives no usable answer for leg {nsd_leg.leg_id}" in item.explanation()
    anonymous, staff = client.get("/health/"), admin_client.get("/health/")
    assert anonymous.status_code == staff.status_code == 503
    assert anonymous.json()["settlement"]["detail"] == "1 transfer stuck"
    said = staff.json()["settlement"]["detail"]
    assert said.startswith("1 transfer stuck (manage.py settlement_stuck lists them)")
    assert f"transfer {transfer.pk} COMMITTING since " in said and nsd_leg.leg_id in said
    assert (
        client.get("/health/?worker=false").status_code == 200
    )  # liveness: restarting the web mends nothing
    status, printed = settlement_stuck()
    assert status == 1
    assert f"transfer {transfer.pk} COMMITTING since" in printed
    assert f"leg {nsd_leg.leg_id} at NSD: PREPARED, last refused OTHR" in printed

    nsd.answer = passed_on  # NSD's route mended: the leg posts, and nothing waits on an operator any more
    advance_batch([transfer], nsd.adapter_for, now=NOON_IN_MOSCOW + dt.timedelta(minutes=3))
    transfer.refresh_from_db()
    assert transfer.status == "SETTLED"
    assert stuck_now() == (0, [])
    assert client.get("/health/").json()["settlement"]["ok"]
    assert settlement_stuck() == (
        0,
        "No transfer stuck (held over 600s past the anchor or while releasing).\n",
    )


def test_a_commit_decision_whose_block_is_not_endorsed_is_stuck_once_held_past_the_alert(books, settings):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="STUCK-P"))
    advance_batch([transfer], books.adapter_for)
    on_the_real_clock()
    transfer.refresh_from_db()
    assert transfer.status == "PREPARED"  # its block neither sealed nor endorsed: nothing has run the ledger
    assert stuck_now() == (0, [])  # seconds old: the ledger's next run will take it on
    entered_ago(transfer, 2 * HOUR)
    count, (item,) = stuck_now()
    assert count == 1 and item.status == "PREPARED" and item.legs == ()  # both legs reserved
    assert item.since < timezone.now() - 2 * HOUR
    assert (
        item.explanation()
        == "its commit decision waits for its block's endorsements (see the ledger's alarms)"
    )
    settings.SETTLEMENT_STUCK_ALERT_SECONDS = 3 * 3600
    assert settlement_stuck()[0] == 0  # held two hours: not stuck for an alert of three
    status, printed = settlement_stuck("--older-than", "3600", "--json")
    assert status == 1
    assert json.loads(printed) == {
        "stuck": 1,
        "transfers": [
            {
                "transfer": transfer.pk,
                "status": "PREPARED",
                "since": item.since.isoformat(),
                "explanation": item.explanation(),
                "legs": [],
            }
        ],
        "overdue": 0,
        "oldest_due_at": None,
    }


def test_a_transfer_recycling_for_lack_of_securities_or_waiting_for_its_date_is_not_stuck(books):
    lacking = matched(*pair(NSD_A, STRATE_A, tx="STUCK-LACK", amount="150000"))  # holds 100,000
    later = matched(*pair(NSD_A, STRATE_A, tx="STUCK-LATER", intended_settlement_date=dt.date(2026, 11, 30)))
    advance_batch([lacking, later], books.adapter_for)
    lacking.refresh_from_db()
    later.refresh_from_db()
    assert lacking.status == "PREPARING" and lacking.pending_reason == "LACK"
    assert later.status == "MATCHED"
    entered_ago(lacking, 5 * HOUR)
    entered_ago(later, 5 * HOUR)
    # the market holds both, until the cut-off (then the first fails) and the 30th: no operator is needed
    assert stuck_now() == (0, [])


def test_transfers_due_that_no_run_takes_are_overdue(
    books, client, admin_client, workers_up, settings, monkeypatch
):
    transfers = [matched(*pair(NSD_A, STRATE_A, tx=f"STUCK-DUE{n}", amount=str(10 + n))) for n in range(3)]
    now = timezone.now()
    assert transfers_overdue(now=now, by=dt.timedelta(minutes=5)) == (0, None)
    oldest = now - HOUR
    Transfer.objects.filter(pk=transfers[0].pk).update(due_at=oldest)
    Transfer.objects.filter(pk=transfers[1].pk).update(due_at=now - dt.timedelta(minutes=10))
    Transfer.objects.filter(pk=transfers[2].pk).update(due_at=now - dt.timedelta(minutes=1))  # lately due
    assert transfers_overdue(now=now, by=dt.timedelta(minutes=5)) == (2, oldest)
    found = client.get("/health/").json()["settlement"]
    assert (found["ok"], found["detail"]) == (False, "2 transfers overdue")
    said = admin_client.get("/health/").json()["settlement"]["detail"]
    assert said.startswith(f"2 transfers overdue: due since {oldest.isoformat(timespec='seconds')}")
    status, printed = settlement_stuck()
    assert status == 1 and "2 transfers overdue by over 300s" in printed
    # counted up to a cap, so that a long outage's backlog costs each check no more than that
    monkeypatch.setattr(selectors, "STUCK_COUNTED_UP_TO", 1)
    assert client.get("/health/").json()["settlement"]["detail"] == "1 or more transfers overdue"
    settings.SETTLEMENT_OVERDUE_ALERT_SECONDS = 2 * 3600
    assert client.get("/health/").status_code == 200


def test_settlement_stuck_refuses_a_negative_age_or_an_empty_list():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--older-than takes a number of seconds"):
        call_command("settlement_stuck", "--older-than", "-1")
    with pytest.raises(CommandError, match="--limit takes a number of transfers"):
        call_command("settlement_stuck", "--limit", "0")
