"""Worked stories of the settlement protocol against real reference ledgers, one per CSD, in this process.

Each story calls ``transfer_advance`` the way the Celery task does, seals the shared ledger when the
protocol waits for it, and reads the CSDs' own books afterwards.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csd_adapters import base as csd
from hub.ledger.models import Entry
from hub.ledger.services import blocks_seal_and_finalise
from hub.messaging.models import OutboundMessage
from hub.messaging.services import inbound_record
from hub.registry.demo import demo_isin
from hub.registry.models import CSD, Participant
from hub.settlement.models import Instruction, Leg, Transfer
from hub.settlement.protocol import transfer_advance
from hub.settlement.services import instruction_match, instruction_submit

from .books import Books, invariant_violations
from .messages import KACD_A, NSD_A, STRATE_A, pair

NOON_IN_MOSCOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)  # Thursday, settlement day, before cut-offs
SHARES = demo_isin("RU", "01")


def matched(deliver, receive) -> Transfer:
    for body in (deliver, receive):
        participant = Participant.objects.get(bic=body.account_owner_bic)
        source = inbound_record(sender=participant, raw=b"-", fmt="MX", content_type="application/xml")
        with transaction.atomic():
            instruction = instruction_submit(participant=participant, body=body, source_message=source)
    transfer = instruction_match(instruction_id=instruction.pk)
    assert transfer is not None
    return transfer


def run(transfer: Transfer, books: Books, *, now=NOON_IN_MOSCOW, rounds: int = 6) -> Transfer:
    """Advance until the transfer is terminal or waits for something other than the ledger."""
    for _ in range(rounds):
        Transfer.objects.filter(pk=transfer.pk, due_at__isnull=False).update(due_at=now)
        transfer_advance(transfer_id=transfer.pk, adapter_for=books.adapter_for, now=now)
        transfer.refresh_from_db()
        if transfer.status != "PREPARED":
            break
        blocks_seal_and_finalise()  # the ledger task: seal, endorse
    return transfer


def statuses_sent(bic: str) -> list[str]:
    return list(
        OutboundMessage.objects.filter(participant__bic=bic)
        .order_by("sequence")
        .values_list("status", flat=True)
    )


def test_issuer_to_investor_nsd_shares_go_from_an_nsd_broker_to_a_strate_broker(books):
    transfer = run(matched(*pair(NSD_A, STRATE_A, tx="S-I", common_trade_reference="TRADE-77")), books)
    transfer = run(transfer, books)
    assert transfer.status == "SETTLED"
    legs = list(
        transfer.legs.order_by("position").values_list(
            "csd__code", "debit_account__number", "credit_account__number", "status"
        )
    )
    assert legs == [
        ("NSD", "DEMARUMM-OWN", "OMNIBUS-STRATE", "COMMITTED"),
        ("STRATE", "MIRROR-NSD", "DEMAZAJJ-OWN", "COMMITTED"),
    ]
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(99_900), 0)
    assert books.balance("STRATE", "DEMAZAJJ-OWN", SHARES) == (Decimal(100_100), 0)
    assert invariant_violations(books) == []
    assert statuses_sent("DEMARUMM")[-1] == "SETTLED" and statuses_sent("DEMAZAJJ")[-1] == "SETTLED"
    confirmation = OutboundMessage.objects.filter(participant__bic="DEMAZAJJ", status="SETTLED").get()
    assert confirmation.message_type == "MT544"  # Strate's broker speaks MT: receive free confirmed
    mx_confirmation = OutboundMessage.objects.get(participant__bic="DEMARUMM", status="SETTLED")
    assert mx_confirmation.message_type == "sese.025.001.11"
    # each side's own confirmation repeats the common trade reference both sides matched on
    assert b":20C::COMM//TRADE-77" in bytes(confirmation.payload)
    assert b"<CmonId>TRADE-77</CmonId>" in bytes(mx_confirmation.payload)
    kinds = list(Entry.objects.filter(reference=f"transfer:{transfer.pk}").values_list("kind", flat=True))
    assert kinds == ["COMMIT", "SETTLED"]
    assert set(Instruction.objects.values_list("status", flat=True)) == {"SETTLED"}


def test_investor_to_issuer_nsd_shares_go_home_from_strate(books):
    transfer = run(run(matched(*pair(STRATE_A, NSD_A, tx="I-S")), books), books)
    assert transfer.status == "SETTLED"
    assert [leg.csd.code for leg in transfer.legs.order_by("position")] == ["STRATE", "NSD"]
    assert books.balance("NSD", "OMNIBUS-STRATE", SHARES)[0] == Decimal(
        4 * 100_000 - 100
    )  # 4 Strate accounts
    assert invariant_violations(books) == []


def test_realignment_through_the_issuer_when_all_three_csds_differ(books):
    transfer = run(run(matched(*pair(STRATE_A, KACD_A, tx="REAL")), books), books)
    assert transfer.status == "SETTLED"
    legs = list(
        transfer.legs.order_by("position").values_list(
            "csd__code", "debit_account__number", "credit_account__number"
        )
    )
    assert legs == [
        ("STRATE", "DEMAZAJJ-OWN", "MIRROR-NSD"),
        ("NSD", "OMNIBUS-STRATE", "OMNIBUS-KACD"),
        ("KACD", "MIRROR-NSD", "DEMAKZKA-OWN"),
    ]
    assert invariant_violations(books) == []


def test_lack_of_securities_is_recycled_until_the_cutoff_then_fails_and_releases_everything(books):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="LACK", amount="150000"))  # holds 100,000
    transfer = run(transfer, books)
    assert transfer.status == "PREPARING" and transfer.pending_reason == "LACK"
    assert transfer.due_at == NOON_IN_MOSCOW + dt.timedelta(seconds=30)
    assert statuses_sent("DEMARUMM")[-1] == "PENDING"
    transfer = run(transfer, books, now=NOON_IN_MOSCOW + dt.timedelta(minutes=1))
    assert transfer.status == "PREPARING"
    assert statuses_sent("DEMARUMM").count("PENDING") == 1  # told once, not at every recycle
    after_cutoff = dt.datetime(2026, 11, 26, 15, 30, tzinfo=dt.UTC)  # 18:30 in Moscow
    transfer = run(transfer, books, now=after_cutoff)
    assert transfer.status == "FAILED" and transfer.failure_reason == "LACK"
    assert set(transfer.legs.values_list("status", flat=True)) == {"ABORTED"}
    assert all(blocked == 0 for _available, blocked in books.ledgers["NSD"].balances().values())
    assert set(Instruction.objects.values_list("status", flat=True)) == {"FAILED"}
    assert statuses_sent("DEMAZAJJ")[-1] == "FAILED"
    assert list(Entry.objects.filter(reference=f"transfer:{transfer.pk}").values_list("kind", flat=True)) == [
        "ABORT"
    ]
    assert invariant_violations(books) == []


def test_the_receiver_of_a_lacking_delivery_is_told_its_counterparty_lacks_securities(books):
    from iso20022 import mx

    def pending_sent(bic: str, tx: str) -> bytes:
        return bytes(
            OutboundMessage.objects.get(participant__bic=bic, transaction_id=tx, status="PENDING").payload
        )

    # an NSD deliverer (MX) lacks; its receiver at Strate takes its statuses in MT
    run(matched(*pair(NSD_A, STRATE_A, tx="CLAC-MT", amount="150000")), books)
    assert [r.code for r in mx.parse(pending_sent("DEMARUMM", "CLAC-MT-D")).body.settlement.reasons] == [
        "LACK"
    ]
    told = pending_sent("DEMAZAJJ", "CLAC-MT-R")
    assert b":24B::PEND//CLAC" in told and b"PEND//LACK" not in told
    # a Strate deliverer (MT) lacks; its receiver at NSD takes its statuses in MX
    run(matched(*pair(STRATE_A, NSD_A, tx="CLAC-MX", amount="150000")), books)
    assert b":24B::PEND//LACK" in pending_sent("DEMAZAJJ", "CLAC-MX-D")
    assert [r.code for r in mx.parse(pending_sent("DEMARUMM", "CLAC-MX-R")).body.settlement.reasons] == [
        "CLAC"
    ]


def test_a_refusal_other_than_lack_aborts_at_once_and_releases_what_was_reserved(books):
    books.ledgers["STRATE"].block_account("MIRROR-NSD")  # the second leg's debit account
    transfer = run(matched(*pair(NSD_A, STRATE_A, tx="BLOC")), books)
    assert transfer.status == "FAILED" and transfer.failure_reason == "BLOC"
    assert dict(transfer.legs.values_list("position", "status")) == {1: "ABORTED", 2: "ABORTED"}
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(100_000), 0)
    assert invariant_violations(books) == []


def test_a_blocked_account_on_one_leg_fails_at_once_though_another_leg_lacks_securities(books):
    books.ledgers["STRATE"].block_account("MIRROR-NSD")  # the second leg's debit account
    transfer = run(matched(*pair(NSD_A, STRATE_A, tx="LACKBLOC", amount="150000")), books)  # holds 100,000
    assert transfer.status == "FAILED" and transfer.failure_reason == "BLOC"
    assert invariant_violations(books) == []


def test_a_leg_refused_for_an_account_its_csd_does_not_know_fails_the_transfer_once_released(books):
    # the hub's registry names a mirror account that Strate's books do not hold: the prepare of the second
    # leg is refused (SAFE), and so is its release; nothing can be reserved on an account Strate does not
    # know, so the transfer fails rather than retrying that release for ever. An active link's accounts
    # cannot be renumbered: the operator deactivated the link, mistyped the number and activated it again
    from hub.registry.models import CSDLink, SecuritiesAccount
    from hub.registry.services import csd_link_activate

    mirror = SecuritiesAccount.objects.select_related("link").get(csd__code="STRATE", number="MIRROR-NSD")
    CSDLink.objects.filter(pk=mirror.link_id).update(is_active=False)
    SecuritiesAccount.objects.filter(pk=mirror.pk).update(number="MIRROR-NSD-GONE")
    csd_link_activate(link=mirror.link)
    transfer = run(matched(*pair(NSD_A, STRATE_A, tx="SAFE")), books)
    assert transfer.status == "FAILED" and transfer.failure_reason == "SAFE"
    assert dict(transfer.legs.values_list("position", "status")) == {1: "ABORTED", 2: "ABORTED"}
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(100_000), 0)
    assert statuses_sent("DEMARUMM")[-1] == "FAILED" and statuses_sent("DEMAZAJJ")[-1] == "FAILED"


def test_a_reserved_leg_whose_release_is_refused_stays_to_be_released(books):
    from hub.settlement.protocol import _released

    refusal = csd.UnknownAccount("no such account")
    assert _released(Leg(status="PENDING"), refusal)
    assert not _released(Leg(status="PREPARED"), refusal)  # the CSD confirmed a reservation there
    assert not _released(Leg(status="PENDING"), csd.LegCommitted("posted"))
    # REFE: the CSD holds a movement under the leg's reference, maybe the leg's own reservation whose
    # confirmation was lost on the way, so the leg is not taken for released
    assert not _released(Leg(status="PENDING"), csd.LegConflict("leg was 7, not 100"))
    assert not _released(Leg(status="PREPARED"), csd.LegConflict("leg was 7, not 100"))
    assert _released(Leg(status="PREPARED"), csd.LegAborted("closed already"))


def test_a_future_settlement_date_waits_for_its_day_in_the_csds_time_zone(books):
    deliver, receive = pair(NSD_A, STRATE_A, tx="LATER", intended_settlement_date=dt.date(2026, 11, 27))
    transfer = run(matched(deliver, receive), books)
    assert transfer.status == "MATCHED" and not transfer.legs.exists()
    # midnight in Johannesburg: the day begins at Strate (UTC+2) an hour after NSD (UTC+3)
    assert transfer.due_at == dt.datetime(2026, 11, 26, 22, 0, tzinfo=dt.UTC)
    transfer = run(
        run(transfer, books, now=dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.UTC)),
        books,
        now=dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.UTC),
    )
    assert transfer.status == "SETTLED"


def test_no_leg_is_booked_before_the_settlement_date_has_begun_at_its_csd(books):
    # 21:30 UTC on the 26th: the 27th in Moscow (NSD, the deliverer's and the issuer's CSD), still the
    # 26th in Johannesburg (Strate, the receiver's): the Strate leg would be booked a day early
    deliver, receive = pair(NSD_A, STRATE_A, tx="EAST", intended_settlement_date=dt.date(2026, 11, 27))
    transfer = run(matched(deliver, receive), books, now=dt.datetime(2026, 11, 26, 21, 30, tzinfo=dt.UTC))
    assert transfer.status == "MATCHED" and not transfer.legs.exists()
    assert transfer.due_at == dt.datetime(2026, 11, 26, 22, 0, tzinfo=dt.UTC)


def test_a_confirmation_carries_the_business_date_of_the_participants_own_csd(books):
    # 22:30 UTC on the 26th is the 27th at both CSDs: each books its leg on the 27th, and each side's
    # sese.025 / MT54x says so
    late = dt.datetime(2026, 11, 26, 22, 30, tzinfo=dt.UTC)
    books.clock = late
    deliver, receive = pair(NSD_A, STRATE_A, tx="DATED", intended_settlement_date=dt.date(2026, 11, 27))
    transfer = run(run(matched(deliver, receive), books, now=late), books, now=late)
    assert transfer.status == "SETTLED"
    from iso20022 import mx
    from iso20022.mt import parse_mt

    nsd = OutboundMessage.objects.get(participant__bic="DEMARUMM", status="SETTLED")
    strate = OutboundMessage.objects.get(participant__bic="DEMAZAJJ", status="SETTLED")
    assert mx.parse(bytes(nsd.payload)).body.effective_settlement_date == dt.date(2026, 11, 27)
    assert parse_mt(bytes(strate.payload)).effective_settlement_date == dt.date(2026, 11, 27)


def test_a_transfer_matched_past_a_csds_cut_off_waits_for_the_next_settlement_day_there(books, settings):
    settings.SETTLEMENT_CUTOFFS_ENFORCED = True
    # 14:30 UTC on Thursday: 17:30 in Moscow, before NSD's 18:00; 16:30 in Johannesburg, past Strate's 16:00
    late = dt.datetime(2026, 11, 26, 14, 30, tzinfo=dt.UTC)
    transfer = run(matched(*pair(NSD_A, STRATE_A, tx="LATE")), books, now=late)
    assert transfer.status == "MATCHED" and not transfer.legs.exists()
    assert transfer.due_at == dt.datetime(2026, 11, 26, 22, 0, tzinfo=dt.UTC)  # Friday 00:00 in Johannesburg
    friday = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.UTC)
    assert run(run(transfer, books, now=friday), books, now=friday).status == "SETTLED"
    # before every cut-off it starts at once
    assert run(matched(*pair(NSD_A, STRATE_A, tx="EARLY")), books).status != "MATCHED"


def test_a_weekend_waits_for_the_next_business_day_when_calendars_are_enforced(books, settings):
    settings.SETTLEMENT_BUSINESS_DAYS_ONLY = True
    deliver, receive = pair(NSD_A, STRATE_A, tx="SAT", intended_settlement_date=dt.date(2026, 11, 28))
    transfer = run(matched(deliver, receive), books, now=dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC))
    assert transfer.status == "MATCHED"
    assert transfer.due_at == dt.datetime(2026, 11, 29, 22, 0, tzinfo=dt.UTC)  # Monday 00:00 in Johannesburg


def test_commit_waits_for_the_commit_decision_to_be_sealed_and_endorsed(books):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="WAIT"))
    Transfer.objects.filter(pk=transfer.pk).update(due_at=NOON_IN_MOSCOW, attempts=2)
    with CaptureQueriesContext(connection) as queries:
        due = transfer_advance(transfer_id=transfer.pk, adapter_for=books.adapter_for, now=NOON_IN_MOSCOW)
    transfer.refresh_from_db()
    assert transfer.status == "PREPARED"
    # handed back by the move to PREPARED itself: due when the ledger is next checked, its failures cleared;
    # the row is written three times (the claim, PREPARING, PREPARED), with no hand-back of its own
    recheck = NOON_IN_MOSCOW + dt.timedelta(seconds=settings.SETTLEMENT_LEDGER_RECHECK_SECONDS)
    assert due == transfer.due_at == recheck and transfer.attempts == 0
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE ")]
    assert len([sql for sql in writes if "settlement_transfer" in sql.split(" SET ")[0]]) == 3
    assert not Leg.objects.filter(transfer=transfer, status="COMMITTED").exists()
    assert Entry.objects.get(pk=transfer.commit_entry_id).block is None
    blocks_seal_and_finalise()
    assert run(transfer, books).status == "SETTLED"


class Flaky:
    """An adapter that is unavailable for its first ``failures`` calls of ``operation``."""

    def __init__(self, inner, operation: str, failures: int) -> None:
        self.inner, self.operation, self.failures = inner, operation, failures

    def __getattr__(self, name):
        method = getattr(self.inner, name)
        if name != self.operation:
            return method

        def call(*args, **kwargs):
            if self.failures:
                self.failures -= 1
                raise csd.CsdUnavailable("connection refused")
            return method(*args, **kwargs)

        return call


def test_a_csd_that_is_down_is_retried_with_backoff_and_the_transfer_settles_once_it_is_back(books):
    flaky = Flaky(books.adapters["STRATE"], "commit_many", failures=2)
    adapter_for = lambda csd_row: flaky if csd_row.code == "STRATE" else books.adapter_for(csd_row)  # noqa: E731
    transfer = matched(*pair(NSD_A, STRATE_A, tx="DOWN"))
    now = NOON_IN_MOSCOW
    waits = []
    for _ in range(8):
        Transfer.objects.filter(pk=transfer.pk, due_at__isnull=False).update(due_at=now)
        due = transfer_advance(transfer_id=transfer.pk, adapter_for=adapter_for, now=now)
        transfer.refresh_from_db()
        if transfer.status == "SETTLED":
            break
        if transfer.status == "PREPARED":
            blocks_seal_and_finalise()
        if transfer.attempts:
            waits.append((due - now).total_seconds())
    assert transfer.status == "SETTLED" and transfer.attempts == 0
    assert len(waits) == 2 and 1 <= waits[0] <= 2 and 2 <= waits[1] <= 4  # exponential, jittered
    assert Leg.objects.filter(transfer=transfer, status="COMMITTED").count() == 2
    assert invariant_violations(books) == []


def test_a_run_that_dies_after_the_anchor_is_rolled_forward_not_back(books):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="CRASH"))
    Transfer.objects.filter(pk=transfer.pk).update(due_at=NOON_IN_MOSCOW)
    transfer_advance(transfer_id=transfer.pk, adapter_for=books.adapter_for, now=NOON_IN_MOSCOW)
    assert Transfer.objects.get(pk=transfer.pk).status == "PREPARED"
    blocks_seal_and_finalise()

    class Dies(Exception):
        """The worker dying between the two commits."""

    class DiesCommitting:
        """Strate's adapter, in a worker that dies as it commits there, once NSD has posted its leg."""

        def __getattr__(self, name):
            return getattr(books.adapters["STRATE"], name)

        def commit_many(self, legs):
            raise Dies("worker killed before the second commit")

    def dying(csd_row: CSD):
        return DiesCommitting() if csd_row.code == "STRATE" else books.adapter_for(csd_row)

    Transfer.objects.filter(pk=transfer.pk).update(due_at=NOON_IN_MOSCOW)
    with pytest.raises(Dies):
        transfer_advance(transfer_id=transfer.pk, adapter_for=dying, now=NOON_IN_MOSCOW)
    transfer.refresh_from_db()
    assert transfer.status == "COMMITTING" and transfer.due_at > NOON_IN_MOSCOW  # the lease of the dead run
    # NSD posted the first leg, Strate nothing; the dead run recorded neither
    first, second = transfer.legs.order_by("position")
    assert [p.reference for p in books.ledgers["NSD"].postings() if p.kind == "DELIVERY"] == [first.leg_id]
    assert not [p for p in books.ledgers["STRATE"].postings() if p.kind == "DELIVERY"]
    assert (first.status, second.status) == ("PREPARED", "PREPARED")
    later = NOON_IN_MOSCOW + dt.timedelta(minutes=2)  # the lease has lapsed: the sweeper's turn
    assert run(transfer, books, now=later).status == "SETTLED"
    assert [p.reference for p in books.ledgers["NSD"].postings() if p.kind == "DELIVERY"] == [first.leg_id]
    assert [p.reference for p in books.ledgers["STRATE"].postings() if p.kind == "DELIVERY"] == [
        second.leg_id
    ]
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(99_900), 0)
    assert books.balance("STRATE", "DEMAZAJJ-OWN", SHARES) == (Decimal(100_100), 0)
    assert invariant_violations(books) == []


def test_a_transfer_not_due_or_held_by_another_run_is_left_alone(books):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="HELD"))
    Transfer.objects.filter(pk=transfer.pk).update(due_at=timezone.now() + dt.timedelta(minutes=5))
    assert transfer_advance(transfer_id=transfer.pk, adapter_for=books.adapter_for) is None
    transfer.refresh_from_db()
    assert transfer.status == "MATCHED"


def _open_break(csd: CSD, isin: str, *, suspends_at: dt.datetime):
    """A break a reconciliation run found (an undue creation at ``csd``), past its deadline."""
    from hub.reconciliation.models import Break, Run

    found_by = Run.objects.create(csd=csd, kind="DEMAND", status="DONE", requested_by="test")
    return Break.objects.create(
        kind="ISSUED",
        csd=csd,
        isin=isin,
        expected=Decimal(600_000),
        actual=Decimal(600_500),
        difference=Decimal(500),
        first_seen_at=suspends_at - dt.timedelta(days=1),
        first_seen_run=found_by,
        last_seen_at=suspends_at,
        last_seen_run=found_by,
        suspends_at=suspends_at,
    )


def test_a_transfer_in_a_suspended_isin_waits_and_settles_once_the_break_is_resolved(books):
    from hub.reconciliation.services import break_resolve

    transfer = matched(*pair(NSD_A, STRATE_A, tx="SUSP"))
    overdue = _open_break(
        CSD.objects.get(code="NSD"), SHARES, suspends_at=NOON_IN_MOSCOW - dt.timedelta(hours=1)
    )
    transfer = run(transfer, books)
    assert transfer.status == "MATCHED" and transfer.pending_reason == "SUSP" and not transfer.legs.exists()
    assert statuses_sent("DEMARUMM")[-1] == "PENDING" and statuses_sent("DEMAZAJJ")[-1] == "PENDING"
    break_resolve(break_id=overdue.pk, actor="operator", note="books repaired")
    later = NOON_IN_MOSCOW + dt.timedelta(minutes=2)
    assert run(run(transfer, books, now=later), books, now=later).status == "SETTLED"


def test_a_transfer_with_a_leg_at_a_suspended_csd_waits_and_settles_once_the_csd_is_active_again(books):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="CSDS"))
    CSD.objects.filter(code="STRATE").update(status="SUSPENDED")
    transfer = run(transfer, books)
    assert transfer.status == "MATCHED" and transfer.pending_reason == "CSDS" and not transfer.legs.exists()
    for bic in ("DEMARUMM", "DEMAZAJJ"):
        assert statuses_sent(bic)[-1] == "PENDING"
    assert run(transfer, books).status == "MATCHED"  # still waiting: told once, not at every look
    assert statuses_sent("DEMARUMM").count("PENDING") == 1
    CSD.objects.filter(code="STRATE").update(status="ACTIVE")
    later = NOON_IN_MOSCOW + dt.timedelta(minutes=2)
    assert run(run(transfer, books, now=later), books, now=later).status == "SETTLED"


def test_the_invariant_checks_read_the_csds_books_not_only_the_hubs_rows(books):
    """Invariant 4 as the CSDs' books hold it: a transfer the hub records as failed, every leg released,
    whose legs were booked at their CSDs, breaks it; the hub's rows alone would not show it."""
    transfer = run(run(matched(*pair(NSD_A, STRATE_A, tx="BOOKED")), books), books)
    assert transfer.status == "SETTLED" and invariant_violations(books) == []
    Leg.objects.filter(transfer=transfer).update(status="ABORTED")
    Transfer.objects.filter(pk=transfer.pk).update(status="FAILED")
    assert [v for v in invariant_violations(books) if f"transfer {transfer.pk} failed" in v]


def test_a_suspended_csd_no_transfer_posts_at_holds_nothing(books):
    CSD.objects.filter(code="CSCS").update(status="SUSPENDED")
    assert run(run(matched(*pair(NSD_A, STRATE_A, tx="FREE")), books), books).status == "SETTLED"


def test_a_suspension_of_an_unrelated_isin_does_not_hold_a_transfer(books):
    _open_break(
        CSD.objects.get(code="NSD"), demo_isin("RU", "02"), suspends_at=NOON_IN_MOSCOW - dt.timedelta(hours=1)
    )
    assert run(run(matched(*pair(NSD_A, STRATE_A, tx="FREE")), books), books).status == "SETTLED"


def test_transfers_waiting_for_the_ledger_are_released_together_once_their_block_is_endorsed(books):
    from hub.settlement.protocol import transfers_release_committable

    transfers = [matched(*pair(NSD_A, STRATE_A, tx=f"BATCH{i}", amount=str(10 + i))) for i in range(3)]
    for transfer in transfers:
        Transfer.objects.filter(pk=transfer.pk).update(due_at=NOON_IN_MOSCOW)
        transfer_advance(transfer_id=transfer.pk, adapter_for=books.adapter_for, now=NOON_IN_MOSCOW)
    assert set(Transfer.objects.values_list("status", flat=True)) == {"PREPARED"}
    assert transfers_release_committable(now=NOON_IN_MOSCOW) == []  # nothing sealed yet: nothing to release
    blocks_seal_and_finalise()  # one block for the three commit decisions
    released = transfers_release_committable(now=NOON_IN_MOSCOW)
    assert sorted(released) == sorted(t.pk for t in transfers)
    assert set(Transfer.objects.values_list("due_at", flat=True)) == {NOON_IN_MOSCOW}
    assert transfers_release_committable(now=NOON_IN_MOSCOW) == []  # released once, not at every pass
    for transfer_id in released:
        transfer_advance(transfer_id=transfer_id, adapter_for=books.adapter_for, now=NOON_IN_MOSCOW)
    assert set(Transfer.objects.values_list("status", flat=True)) == {"SETTLED"}


class Counting:
    """An adapter that counts its batch calls, and what each carried."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        method = getattr(self.inner, name)
        if not name.endswith("_many"):
            return method

        def call(legs):
            self.calls.append((name, len(legs)))
            return method(legs)

        return call


def advance_batch(transfers: list[Transfer], adapter_for, *, now=NOON_IN_MOSCOW) -> dict:
    from hub.settlement.protocol import transfers_advance

    ids = [t.pk for t in transfers]
    Transfer.objects.filter(pk__in=ids, due_at__isnull=False).update(due_at=now)
    return transfers_advance(transfer_ids=ids, adapter_for=adapter_for, now=now)


def test_a_batch_settles_with_one_call_per_csd_per_step_and_one_commit_entry_per_transfer(books):
    counting = {code: Counting(adapter) for code, adapter in books.adapters.items()}
    adapter_for = lambda csd_row: counting[csd_row.code]  # noqa: E731
    transfers = [
        matched(*pair(NSD_A, STRATE_A, tx="B-SI1", amount="11")),
        matched(*pair(NSD_A, STRATE_A, tx="B-SI2", amount="12")),
        matched(*pair(STRATE_A, NSD_A, tx="B-IS", amount="13")),
        matched(*pair(STRATE_A, KACD_A, tx="B-RE", amount="14")),
    ]
    advance_batch(transfers, adapter_for)
    assert set(Transfer.objects.values_list("status", flat=True)) == {"PREPARED"}
    blocks_seal_and_finalise()
    advance_batch(transfers, adapter_for)
    assert set(Transfer.objects.values_list("status", flat=True)) == {"SETTLED"}
    # NSD (the issuer) and Strate hold a leg of each of the four transfers, KACD one (the realignment's
    # last): each CSD was asked once to prepare and once to commit, for all of its legs together
    assert counting["NSD"].calls == [("prepare_many", 4), ("commit_many", 4)]
    assert counting["STRATE"].calls == [("prepare_many", 4), ("commit_many", 4)]
    assert counting["KACD"].calls == [("prepare_many", 1), ("commit_many", 1)]
    for transfer in transfers:
        kinds = list(Entry.objects.filter(reference=f"transfer:{transfer.pk}").values_list("kind", flat=True))
        assert kinds == ["COMMIT", "SETTLED"]
    assert OutboundMessage.objects.filter(status="SETTLED").count() == 2 * len(transfers)
    assert set(Instruction.objects.values_list("status", flat=True)) == {"SETTLED"}
    assert invariant_violations(books) == []


def test_a_transfer_moved_by_another_actor_while_its_legs_were_reserved_gets_no_commit_entry(
    books, monkeypatch
):
    from hub.settlement import protocol

    kept = matched(*pair(NSD_A, STRATE_A, tx="R-KEPT", amount="11"))
    moved = matched(*pair(NSD_A, STRATE_A, tx="R-MOVED", amount="12"))
    read_legs = protocol._leg_statuses

    def then_another_actor_moves_one(transfers):
        # the competing write lands after the run read the transfers, just before it locks them
        Transfer.objects.filter(pk=moved.pk).update(status="ABORTING", failure_reason="CANC")
        return read_legs(transfers)

    monkeypatch.setattr(protocol, "_leg_statuses", then_another_actor_moves_one)
    advance_batch([kept, moved], books.adapter_for)
    kept.refresh_from_db()
    moved.refresh_from_db()
    assert kept.status == "PREPARED" and kept.commit_entry_id is not None
    assert Entry.objects.get(pk=kept.commit_entry_id).reference == f"transfer:{kept.pk}"
    # no commit decision for a transfer that did not move: the run takes it on from where the other actor
    # put it, and releases its reservations
    assert moved.status == "FAILED" and moved.commit_entry_id is None
    assert list(Entry.objects.filter(reference=f"transfer:{moved.pk}").values_list("kind", flat=True)) == [
        "ABORT"
    ]
    assert set(Leg.objects.filter(transfer=moved).values_list("status", flat=True)) == {"ABORTED"}


def test_a_transfer_another_run_failed_meanwhile_does_not_stop_the_rest_of_the_batch(books, monkeypatch):
    from hub.settlement import protocol

    books.ledgers["STRATE"].block_account("MIRROR-NSD")  # both transfers' second legs are refused
    first = matched(*pair(NSD_A, STRATE_A, tx="F-1", amount="11"))
    second = matched(*pair(NSD_A, STRATE_A, tx="F-2", amount="12"))
    read_legs = protocol._leg_statuses

    def then_another_run_fails_one(transfers):
        if any(t.status == "ABORTING" for t in transfers):
            # an overlapping run (its lease lapsed) closes the first transfer just before this one does
            Transfer.objects.filter(pk=first.pk).update(status="FAILED", due_at=None)
        return read_legs(transfers)

    monkeypatch.setattr(protocol, "_leg_statuses", then_another_run_fails_one)
    due = advance_batch([first, second], books.adapter_for)
    assert due == {first.pk: None, second.pk: None}
    second.refresh_from_db()
    assert second.status == "FAILED" and second.failure_reason == "BLOC"
    assert set(Instruction.objects.filter(transfer=second).values_list("status", flat=True)) == {"FAILED"}


def test_a_transfer_that_settles_after_transient_failures_is_due_no_more_and_counts_none(books):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="H-1", amount="11"))
    Transfer.objects.filter(pk=transfer.pk).update(attempts=3)  # earlier runs met a CSD down
    transfer = run(transfer, books)
    assert transfer.status == "SETTLED" and transfer.settled_at == NOON_IN_MOSCOW
    assert transfer.due_at is None and transfer.attempts == 0  # handed back by the settlement's write


def test_a_refusal_in_a_batch_fails_or_recycles_only_the_transfers_it_concerns(books):
    lacking = matched(*pair(NSD_A, STRATE_A, tx="B-LACK", amount="150000"))  # holds 100,000
    fine = matched(*pair(NSD_A, STRATE_A, tx="B-FINE", amount="10"))
    books.ledgers["KACD"].block_account("MIRROR-NSD")  # the realignment's last leg is refused (BLOC)
    blocked = matched(*pair(STRATE_A, KACD_A, tx="B-BLOC", amount="20"))
    batch = [lacking, fine, blocked]
    advance_batch(batch, books.adapter_for)
    blocks_seal_and_finalise()
    advance_batch(batch, books.adapter_for)
    lacking, fine, blocked = (Transfer.objects.get(pk=t.pk) for t in batch)
    assert lacking.status == "PREPARING" and lacking.pending_reason == "LACK"
    assert lacking.due_at == NOON_IN_MOSCOW + dt.timedelta(seconds=30)
    assert fine.status == "SETTLED"
    assert blocked.status == "FAILED" and blocked.failure_reason == "BLOC"
    assert set(blocked.legs.values_list("status", flat=True)) == {"ABORTED"}
    assert books.balance("STRATE", "DEMAZAJJ-OWN", SHARES) == (Decimal(100_010), 0)
    assert invariant_violations(books) == []


def test_a_csd_down_in_a_batch_delays_only_the_transfers_with_a_leg_there(books):
    down = Flaky(books.adapters["KACD"], "prepare_many", failures=1)
    adapter_for = lambda csd_row: down if csd_row.code == "KACD" else books.adapter_for(csd_row)  # noqa: E731
    through_kacd = matched(*pair(STRATE_A, KACD_A, tx="B-DOWN", amount="15"))
    elsewhere = matched(*pair(NSD_A, STRATE_A, tx="B-UP", amount="16"))
    advance_batch([through_kacd, elsewhere], adapter_for)
    through_kacd.refresh_from_db()
    elsewhere.refresh_from_db()
    assert elsewhere.status == "PREPARED" and elsewhere.attempts == 0
    assert through_kacd.status == "PREPARING" and through_kacd.attempts == 1
    assert (
        NOON_IN_MOSCOW + dt.timedelta(seconds=1)
        <= through_kacd.due_at
        <= NOON_IN_MOSCOW + dt.timedelta(seconds=2)
    )
    assert run(run(through_kacd, books), books).status == "SETTLED"
    assert invariant_violations(books) == []


def test_a_transfer_lacking_securities_is_recycled_as_soon_as_a_settlement_credits_its_position(books):
    lacking = matched(*pair(NSD_A, STRATE_A, tx="WAKE-LACK", amount="100050"))  # holds 100,000
    advance_batch([lacking], books.adapter_for)
    lacking.refresh_from_db()
    assert lacking.pending_reason == "LACK"
    assert lacking.due_at == NOON_IN_MOSCOW + dt.timedelta(seconds=30)
    unrelated = matched(*pair(STRATE_A, KACD_A, tx="WAKE-NOT", amount="5"))  # credits nothing at NSD
    run(run(unrelated, books), books)
    lacking.refresh_from_db()
    assert lacking.due_at == NOON_IN_MOSCOW + dt.timedelta(seconds=30)  # still waiting its turn
    incoming = matched(*pair(STRATE_A, NSD_A, tx="WAKE-IN", amount="100"))  # credits DEMARUMM-OWN at NSD
    assert run(run(incoming, books), books).status == "SETTLED"
    lacking.refresh_from_db()
    assert lacking.status == "PREPARING" and lacking.due_at == NOON_IN_MOSCOW  # recycled at once
    assert run(run(lacking, books), books).status == "SETTLED"
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(50), 0)
    assert invariant_violations(books) == []


def test_a_run_filled_to_a_batch_takes_other_due_transfers_but_none_another_run_holds(books):
    from hub.settlement.protocol import transfers_advance

    given, due, held = (matched(*pair(NSD_A, STRATE_A, tx=f"FILL{i}", amount=str(20 + i))) for i in range(3))
    Transfer.objects.filter(pk__in=[given.pk, due.pk]).update(due_at=NOON_IN_MOSCOW)
    lease = NOON_IN_MOSCOW + dt.timedelta(minutes=1)
    Transfer.objects.filter(pk=held.pk).update(due_at=lease)  # another run's lease
    unfilled = transfers_advance(transfer_ids=[given.pk], adapter_for=books.adapter_for, now=NOON_IN_MOSCOW)
    assert set(unfilled) == {given.pk}
    assert Transfer.objects.get(pk=due.pk).status == "MATCHED"  # not filled: left for its own task
    Transfer.objects.filter(pk=given.pk).update(due_at=NOON_IN_MOSCOW)
    filled = transfers_advance(
        transfer_ids=[given.pk], adapter_for=books.adapter_for, now=NOON_IN_MOSCOW, fill_to=10
    )
    assert set(filled) == {given.pk, due.pk}
    assert Transfer.objects.get(pk=due.pk).status == "PREPARED"
    assert (
        Transfer.objects.get(pk=held.pk).status == "MATCHED"
        and Transfer.objects.get(pk=held.pk).due_at == lease
    )
    # the task that queued the filled transfer finds it held, and does nothing
    assert transfers_advance(transfer_ids=[due.pk], adapter_for=books.adapter_for, now=NOON_IN_MOSCOW) == {}


class NsdOverMx:
    """NSD's books behind its MX adapter and the reference CSD's service, in this process, its bulk replies
    changed by ``alter(reply)`` the first ``times`` times."""

    def __init__(self, books, alter, *, times: int = 1) -> None:
        from csd_adapters.mx import MxAdapter
        from csd_adapters.reference_csd.service import ReferenceCsd
        from csd_adapters.transport import WsgiTransport
        from hub.registry.adapters import csd_profile

        profile = csd_profile(CSD.objects.get(code="NSD"))
        outer = self

        class Altered(WsgiTransport):
            def _send(self, method, path, body, params, content_type):
                reply = super()._send(method, path, body, params, content_type)
                if path == "/messages/bulk" and outer.times:
                    outer.times -= 1
                    return alter(reply)
                return reply

        self.times = times
        self.adapter = MxAdapter(
            profile=profile, transport=Altered(ReferenceCsd(profile, books.ledgers["NSD"]))
        )
        self.books = books

    def adapter_for(self, csd_row: CSD):
        return self.adapter if csd_row.code == "NSD" else self.books.adapter_for(csd_row)


def test_one_unreadable_part_of_a_csds_bulk_reply_fails_only_the_transfer_it_answers(books):
    from csd_adapters.transport import Reply

    def garble_the_first(reply):
        return Reply(
            reply.status,
            reply.content_type,
            (reply.parts[0].replace(b"<Document", b"<Documnt", 1),) + reply.parts[1:],
        )

    nsd = NsdOverMx(books, garble_the_first)
    transfers = [matched(*pair(NSD_A, STRATE_A, tx=f"G{i}", amount=str(10 + i))) for i in range(4)]
    advance_batch(transfers, nsd.adapter_for)
    garbled, *fine = (Transfer.objects.get(pk=t.pk) for t in transfers)
    assert garbled.status == "FAILED" and garbled.failure_reason == "OTHR"
    assert "unreadable reply from NSD" in garbled.failure_detail
    assert {t.status for t in fine} == {"PREPARED"}
    # NSD had reserved the garbled one's leg too: released, the others' kept
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(100_000 - 11 - 12 - 13), Decimal(36))


def test_a_bulk_file_whose_answer_says_nothing_sure_of_its_legs_is_tried_again_not_failed(books):
    from csd_adapters.transport import Reply

    def about_transactions_never_sent(reply):
        # NSD applied the file; its reply, changed on the way, names other transactions than the legs
        parts = tuple(p.replace(b"<AcctOwnrTxId>", b"<AcctOwnrTxId>X", 1) for p in reply.parts)
        return Reply(reply.status, reply.content_type, parts)

    nsd = NsdOverMx(books, about_transactions_never_sent)
    transfers = [matched(*pair(NSD_A, STRATE_A, tx=f"W{i}", amount=str(10 + i))) for i in range(3)]
    advance_batch(transfers, nsd.adapter_for)
    assert {(t.status, t.attempts) for t in Transfer.objects.filter(pk__in=[t.pk for t in transfers])} == {
        ("PREPARING", 1)
    }
    later = NOON_IN_MOSCOW + dt.timedelta(seconds=5)
    advance_batch(transfers, nsd.adapter_for, now=later)
    assert set(Transfer.objects.values_list("status", flat=True)) == {"PREPARED"}
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(100_000 - 33), Decimal(33))
