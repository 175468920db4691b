"""Worked stories of a transfer whose settlement day ends while it is being prepared: the rules it started
under (every CSD in the business day it started on, before its cut-off, the ISIN not suspended) hold until
its commit decision is anchored, and once one fails everything reserved is released.

The demo world: NSD (Moscow, UTC+3) closes at 18:00, Strate (Johannesburg, UTC+2) at 16:00. Thursday
2026-11-26 is the settlement day; 09:00 UTC is before both cut-offs.
"""

import datetime as dt
from decimal import Decimal

from hub.ledger.models import Entry
from hub.registry.models import CSD
from hub.settlement.models import Instruction, Transfer
from hub.settlement.protocol import transfer_advance

from .books import invariant_violations
from .messages import NSD_A, STRATE_A, pair
from .test_protocol import NOON_IN_MOSCOW, SHARES, Flaky, _open_break, matched, run, statuses_sent

UTC = dt.UTC
PAST_STRATES_CUTOFF = dt.datetime(2026, 11, 26, 14, 30, tzinfo=UTC)  # 16:30 Johannesburg, 17:30 Moscow


def advance(transfer: Transfer, adapter_for, *, now: dt.datetime, clock=None) -> Transfer:
    Transfer.objects.filter(pk=transfer.pk, due_at__isnull=False).update(due_at=now)
    transfer_advance(transfer_id=transfer.pk, adapter_for=adapter_for, now=now, clock=clock)
    transfer.refresh_from_db()
    return transfer


def strate_down(books, operation: str = "prepare_many"):
    down = Flaky(books.adapters["STRATE"], operation, failures=1000)
    return lambda csd_row: down if csd_row.code == "STRATE" else books.adapter_for(csd_row)


def nothing_blocked(books) -> bool:
    return all(
        blocked == 0 for ledger in books.ledgers.values() for _a, blocked in ledger.balances().values()
    )


def failed_and_released(transfer: Transfer, books, reason: str) -> bool:
    return (
        transfer.status == "FAILED"
        and transfer.failure_reason == reason
        and set(transfer.legs.values_list("status", flat=True)) == {"ABORTED"}
        and nothing_blocked(books)
        and not Entry.objects.filter(reference=f"transfer:{transfer.pk}", kind="COMMIT").exists()
    )


def test_a_lack_is_not_recycled_past_the_cut_off_of_the_other_csd(books):
    # the NSD deliverer holds 100,000: its leg lacks, Strate's is reserved
    transfer = run(matched(*pair(NSD_A, STRATE_A, tx="LACK-TWO", amount="150000")), books)
    assert transfer.status == "PREPARING" and transfer.pending_reason == "LACK"
    # NSD is still open at 17:30, but Strate closed at 16:00: the transfer cannot be booked today at both
    transfer = run(transfer, books, now=PAST_STRATES_CUTOFF)
    assert failed_and_released(transfer, books, "LACK")
    assert statuses_sent("DEMARUMM")[-1] == "FAILED" and statuses_sent("DEMAZAJJ")[-1] == "FAILED"
    assert invariant_violations(books) == []


def test_securities_arriving_after_a_csds_cut_off_do_not_settle_the_lacking_transfer(books, settings):
    settings.SETTLEMENT_CUTOFFS_ENFORCED = True
    transfer = run(matched(*pair(NSD_A, STRATE_A, tx="LACK-LATE", amount="150000")), books)
    assert transfer.pending_reason == "LACK"
    books.ledgers["NSD"].issue(
        reference="TOPUP", account="DEMARUMM-OWN", isin=SHARES, quantity=Decimal(60000)
    )
    # 16:45 in Johannesburg: the deliverer now holds enough, but Strate's day is closed
    transfer = run(transfer, books, now=dt.datetime(2026, 11, 26, 14, 45, tzinfo=UTC))
    assert failed_and_released(transfer, books, "LACK")
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(160_000), 0)  # nothing delivered
    assert books.balance("STRATE", "DEMAZAJJ-OWN", SHARES) == (Decimal(100_000), 0)


def test_a_csd_down_until_its_cut_off_fails_the_transfer_rather_than_reserving_it_then(books, settings):
    settings.SETTLEMENT_CUTOFFS_ENFORCED = True
    adapter_for = strate_down(books)
    transfer = advance(matched(*pair(NSD_A, STRATE_A, tx="DOWN-CUT")), adapter_for, now=NOON_IN_MOSCOW)
    assert transfer.status == "PREPARING" and transfer.attempts == 1
    # Strate answers again once it has closed for the day
    transfer = run(transfer, books, now=PAST_STRATES_CUTOFF)
    assert failed_and_released(transfer, books, "LATE")
    assert "STRATE: past its settlement cut-off (16:00)" in transfer.failure_detail


def test_a_transfer_whose_csd_was_down_on_friday_does_not_settle_on_saturday(books, settings):
    settings.SETTLEMENT_CUTOFFS_ENFORCED = True
    friday, saturday = (dt.datetime(2026, 11, day, 9, 0, tzinfo=UTC) for day in (27, 28))
    transfer = matched(*pair(NSD_A, STRATE_A, tx="FRI", intended_settlement_date=dt.date(2026, 11, 27)))
    transfer = advance(transfer, strate_down(books), now=friday)
    assert transfer.status == "PREPARING" and transfer.started_at == friday
    transfer = run(transfer, books, now=saturday)
    assert failed_and_released(transfer, books, "LATE")
    assert set(Instruction.objects.values_list("status", flat=True)) == {"FAILED"}
    assert invariant_violations(books) == []


def test_a_transfer_is_anchored_only_in_the_business_day_it_started_on(books):
    # cut-offs are not enforced here, business days are: Strate is down from Thursday evening until
    # Friday morning, a business day too, but not the one the transfer started on
    evening = dt.datetime(2026, 11, 26, 19, 0, tzinfo=UTC)  # 21:00 Johannesburg, 22:00 Moscow
    transfer = advance(matched(*pair(NSD_A, STRATE_A, tx="NIGHT")), strate_down(books), now=evening)
    assert transfer.status == "PREPARING"
    transfer = run(transfer, books, now=dt.datetime(2026, 11, 27, 7, 0, tzinfo=UTC))
    assert failed_and_released(transfer, books, "LATE")
    assert transfer.failure_detail.endswith("the business day settlement started on (2026-11-26) has closed")


def test_a_suspension_found_while_a_transfer_waits_for_securities_fails_it_before_more_is_reserved(books):
    # the NSD deliverer holds 100,000: its leg lacks, Strate's is reserved
    transfer = run(matched(*pair(NSD_A, STRATE_A, tx="SUSP-MID", amount="150000")), books)
    assert transfer.status == "PREPARING" and transfer.pending_reason == "LACK"
    # meanwhile reconciliation found a break at NSD, overdue now
    _open_break(CSD.objects.get(code="NSD"), SHARES, suspends_at=NOON_IN_MOSCOW)
    transfer = run(transfer, books, now=NOON_IN_MOSCOW + dt.timedelta(minutes=1))
    assert failed_and_released(transfer, books, "SUSP")
    assert transfer.failure_detail == "NSD, STRATE: ISIN suspended from settlement by a reconciliation break"


def test_suspensions_are_read_once_a_step_for_a_whole_batch_whatever_its_isins(books):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hub.registry.demo import demo_isin

    from .test_protocol import advance_batch

    strate_shares = demo_isin("ZA", "01")
    batch = [
        *(matched(*pair(NSD_A, STRATE_A, tx=f"Q-RU{i}", amount=str(10 + i))) for i in range(3)),
        *(
            matched(*pair(STRATE_A, NSD_A, tx=f"Q-ZA{i}", amount=str(10 + i), isin=strate_shares))
            for i in range(3)
        ),
    ]
    with CaptureQueriesContext(connection) as queries:
        advance_batch(batch, books.adapter_for)  # MATCHED -> PREPARING, then PREPARING -> PREPARED
    assert set(Transfer.objects.values_list("status", flat=True)) == {"PREPARED"}
    suspension_reads = [q["sql"] for q in queries.captured_queries if "WITH RECURSIVE" in q["sql"]]
    assert len(suspension_reads) == 2  # one as settlement starts, one as the legs are prepared


def test_a_cut_off_passing_while_the_csds_answer_stops_the_anchor(books, settings):
    settings.SETTLEMENT_CUTOFFS_ENFORCED = True
    before = dt.datetime(2026, 11, 26, 13, 59, tzinfo=UTC)  # 15:59 in Johannesburg
    after = dt.datetime(2026, 11, 26, 14, 1, tzinfo=UTC)  # the CSDs' answers came back at 16:01
    transfer = advance(
        matched(*pair(NSD_A, STRATE_A, tx="SLOW")), books.adapter_for, now=before, clock=lambda: after
    )
    assert failed_and_released(transfer, books, "LATE")


def test_a_transfer_preparing_since_before_its_start_was_kept_is_held_to_the_day_its_timeline_gives(books):
    from importlib import import_module

    from django.apps import apps

    from hub.settlement.models import StatusEvent

    evening = dt.datetime(2026, 11, 26, 19, 0, tzinfo=UTC)  # Thursday, 21:00 Johannesburg, 22:00 Moscow
    transfer = advance(matched(*pair(NSD_A, STRATE_A, tx="BEFORE")), strate_down(books), now=evening)
    assert transfer.status == "PREPARING"
    # as a transfer that started before migration 0014 kept the time: on its timeline only
    Transfer.objects.filter(pk=transfer.pk).update(started_at=None)
    StatusEvent.objects.filter(transfer=transfer, from_status="MATCHED", to_status="PREPARING").update(
        at=evening
    )
    not_started = matched(*pair(NSD_A, STRATE_A, tx="NOT-YET", amount="7"))
    import_module("hub.settlement.migrations.0017_transfer_started_at_backfill").backfill(apps, None)
    transfer.refresh_from_db()
    assert transfer.started_at == evening
    assert Transfer.objects.get(pk=not_started.pk).started_at is None
    # Strate answers again on Friday morning, a business day but not the one the transfer started on
    transfer = run(transfer, books, now=dt.datetime(2026, 11, 27, 7, 0, tzinfo=UTC))
    assert failed_and_released(transfer, books, "LATE")
