"""Matching on the mandatory fields through the matching key, with the optional-field rule."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from hub.messaging.models import OutboundMessage
from hub.messaging.services import inbound_record
from hub.registry.models import CSD, Participant
from hub.settlement import errors, selectors, services, tasks
from hub.settlement.models import Instruction, Transfer
from hub.settlement.services import instruction_match, instruction_submit, instructions_match

from ...conftest import broker_unreachable, celery_worker
from .messages import NSD_BROKER, STRATE_BROKER, instruction


def submit(body) -> Instruction:
    participant = Participant.objects.get(bic=body.account_owner_bic)
    message = inbound_record(sender=participant, raw=b"test", fmt="MX", content_type="application/xml")
    with transaction.atomic():
        return instruction_submit(participant=participant, body=body, source_message=message)


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)


def pair(
    deliver_extra: dict | None = None, receive_extra: dict | None = None
) -> tuple[Instruction, Instruction]:
    return (
        submit(instruction("DELI", tx="M-D", **(deliver_extra or {}))),
        submit(instruction("RECE", tx="M-R", **(receive_extra or {}))),
    )


def test_both_sides_get_the_same_matching_key(demo):
    deliver, receive = pair()
    assert deliver.matching_key == receive.matching_key


@pytest.mark.parametrize("field", ["amount", "trade_date", "intended_settlement_date"])
def test_a_difference_in_a_mandatory_field_changes_the_key(demo, field):
    change = {
        "amount": {"amount": "101"},
        "trade_date": {"trade_date": dt.date(2026, 11, 23)},
        "intended_settlement_date": {"intended_settlement_date": dt.date(2026, 11, 27)},
    }[field]
    deliver = submit(instruction("DELI", tx="K-D"))
    receive = submit(instruction("RECE", tx="K-R", **change))
    assert deliver.matching_key != receive.matching_key
    assert instruction_match(instruction_id=deliver.pk) is None
    deliver.refresh_from_db()
    assert deliver.status == "UNMATCHED"


def test_a_counterparty_named_with_its_primary_office_branch_matches_one_named_without(demo):
    from iso20022 import models as m

    # the deliverer writes the receiver's BIC11 (DEMAZAJJXXX), the receiver writes the deliverer's BIC8
    deliver, receive = pair(
        {"counterparty": m.Counterparty(bic=f"{STRATE_BROKER}XXX", csd_bic="STRAZAJJXXX")},
        {"client_bic": "CLNTZAJJXXX"},
    )
    assert deliver.counterparty_bic == STRATE_BROKER and receive.client_bic == "CLNTZAJJ"
    assert deliver.matching_key == receive.matching_key
    transfer = instruction_match(instruction_id=receive.pk)
    assert transfer is not None and {transfer.deliver_id, transfer.receive_id} == {deliver.pk, receive.pk}


def test_client_bics_written_with_and_without_the_branch_agree(demo):
    from iso20022 import models as m

    deliver, receive = pair(
        {"counterparty": m.Counterparty(bic=STRATE_BROKER, csd_bic="STRAZAJJ", client_bic="CLNTZAJJXXX")},
        {"client_bic": "CLNTZAJJ"},
    )
    assert instruction_match(instruction_id=deliver.pk) is not None


def test_an_optional_field_filled_on_one_side_only_still_matches(demo):
    deliver, receive = pair({"common_trade_reference": "TRADE-9"}, {})
    assert instruction_match(instruction_id=receive.pk) is not None


def test_optional_fields_that_differ_do_not_match(demo):
    deliver, receive = pair({"common_trade_reference": "TRADE-9"}, {"common_trade_reference": "TRADE-8"})
    assert instruction_match(instruction_id=receive.pk) is None
    assert not Transfer.objects.exists()


def test_the_counterpartys_account_when_given_must_be_the_real_one(demo):
    from iso20022 import models as m

    wrong = m.Counterparty(bic=STRATE_BROKER, csd_bic="STRAZAJJ", safekeeping_account="DEMAZAJJ-CLIENT")
    right = m.Counterparty(bic=NSD_BROKER, csd_bic="NADCRUMM", safekeeping_account="DEMARUMM-OWN")
    deliver, receive = pair({"counterparty": wrong}, {"counterparty": right})
    assert instruction_match(instruction_id=deliver.pk) is None


def _match_at_once(instruction_id: int, barrier: threading.Barrier, results: list) -> None:
    barrier.wait()
    results.append(instruction_match(instruction_id=instruction_id))
    connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_both_sides_matched_at_the_same_moment_make_exactly_one_transfer():
    call_command("seed_demo", verbosity=0)
    for round_number in range(5):
        deliver = submit(instruction("DELI", tx=f"RACE-D{round_number}", amount=str(10 + round_number)))
        receive = submit(instruction("RECE", tx=f"RACE-R{round_number}", amount=str(10 + round_number)))
        barrier = threading.Barrier(2)
        results = []

        threads = [
            threading.Thread(target=_match_at_once, args=(i, barrier, results))
            for i in (deliver.pk, receive.pk)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len([r for r in results if r is not None]) == 1
        transfer = Transfer.objects.get(deliver=deliver)
        assert transfer.receive_id == receive.pk and transfer.quantity == Decimal(10 + round_number)
    assert Transfer.objects.count() == 5


def test_a_counterpart_behind_more_disagreeing_ones_than_a_turn_reads_is_still_found(demo):
    # 55 identical trades but for their common trade reference, then the receive side of the last one
    for n in range(services.MATCH_CANDIDATES + 5):
        submit(instruction("DELI", tx=f"MANY-D{n}", common_trade_reference=f"CTR{n}"))
    last = services.MATCH_CANDIDATES + 4
    receive = submit(instruction("RECE", tx="MANY-R", common_trade_reference=f"CTR{last}"))
    transfer = instruction_match(instruction_id=receive.pk)
    assert transfer is not None and transfer.deliver.transaction_id == f"MANY-D{last}"
    # and one that no open counterpart agrees with stays unmatched
    stray = submit(instruction("RECE", tx="STRAY-R", common_trade_reference="NOT-THERE"))
    assert instruction_match(instruction_id=stray.pk) is None


def test_a_counterparty_or_csd_registered_with_its_xxx_branch_is_found_by_its_eight_characters(demo):
    Participant.objects.filter(bic=STRATE_BROKER).update(bic=STRATE_BROKER + "XXX")
    CSD.objects.filter(bic="STRAZAJJ").update(bic="STRAZAJJXXX")
    deliver = submit(instruction("DELI", tx="XXX-D"))  # names DEMAZAJJ at STRAZAJJ
    assert deliver.counterparty_bic == STRATE_BROKER + "XXX" and deliver.counterparty_csd.code == "STRATE"


def test_an_instruction_naming_another_csd_as_its_own_depository_is_refused_with_dept(demo):
    with pytest.raises(errors.NotTheOwnCsd, match="KACDKZKA") as refused:
        submit(instruction("DELI", tx="OWN-D", own_csd_bic="KACDKZKA"))
    assert refused.value.reason_code == "DEPT"
    assert submit(instruction("DELI", tx="OWN-OK", own_csd_bic="NADCRUMMXXX")).status == "ACCEPTED"


def test_an_unmatched_status_says_the_counterpart_instruction_is_missing(demo):
    lone = submit(instruction("DELI", tx="LONE-D"))
    instruction_match(instruction_id=lone.pk)
    advice = OutboundMessage.objects.filter(transaction_id="LONE-D", status="UNMATCHED").get()
    assert b"<Cd>CMIS</Cd>" in bytes(advice.payload)


def test_a_batch_matches_each_instruction_as_one_at_a_time_would(demo):
    receives = [submit(instruction("RECE", tx=f"B-R{n}", amount=str(n + 1))) for n in range(3)]
    mismatch = submit(instruction("RECE", tx="B-RX", amount="9", common_trade_reference="T-1"))
    delivers = [submit(instruction("DELI", tx=f"B-D{n}", amount=str(n + 1))) for n in range(3)]
    lonely = submit(instruction("DELI", tx="B-LONELY", amount="77"))
    other = submit(instruction("DELI", tx="B-DX", amount="9", common_trade_reference="T-2"))
    batch = [lonely.pk, *(d.pk for d in delivers), other.pk]
    made = instructions_match(instruction_ids=batch)
    assert sorted(made) == sorted(d.pk for d in delivers)
    for deliver, receive in zip(delivers, receives, strict=True):
        assert (made[deliver.pk].deliver_id, made[deliver.pk].receive_id) == (deliver.pk, receive.pk)
    statuses = dict(Instruction.objects.values_list("transaction_id", "status"))
    assert statuses["B-LONELY"] == statuses["B-DX"] == "UNMATCHED" and statuses["B-RX"] == "ACCEPTED"
    assert {statuses[f"B-{side}{n}"] for side in "DR" for n in range(3)} == {"MATCHED"}
    assert mismatch.pk not in made and instructions_match(instruction_ids=batch) == {}  # nothing twice


def test_both_sides_in_one_batch_make_one_transfer_and_the_first_turn_makes_it(demo):
    deliver, receive = pair()
    made = instructions_match(instruction_ids=[receive.pk, deliver.pk])
    assert list(made) == [receive.pk] and Transfer.objects.get().deliver_id == deliver.pk


def test_a_batch_is_matched_in_a_few_queries_and_hands_the_protocol_one_task(
    demo, django_assert_max_num_queries, django_capture_on_commit_callbacks, monkeypatch
):
    published = []
    monkeypatch.setattr(tasks.transfers_advance, "delay", lambda ids: published.append(ids))
    for n in range(20):
        submit(instruction("DELI", tx=f"Q-D{n}", amount=str(n + 1)))
    receives = [submit(instruction("RECE", tx=f"Q-R{n}", amount=str(n + 1))).pk for n in range(20)]
    # every pair's status moves in one write (each instruction with its own transfer), and each kind of
    # registry row the notices read is read once: a fixed number of queries whatever the batch's size
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(17):
        made = instructions_match(instruction_ids=receives)
    assert len(made) == 20
    assert published == [[transfer.pk for transfer in made.values()]]
    for transfer in made.values():
        for side in (transfer.deliver, transfer.receive):
            side.refresh_from_db()
            assert side.status == "MATCHED" and side.transfer_id == transfer.pk
            assert side.events.get(to_status="MATCHED").cause == f"transfer {transfer.pk}"


@pytest.mark.django_db(transaction=True)
def test_a_counterpart_taken_just_before_the_lock_gives_the_instruction_another_turn(monkeypatch):
    call_command("seed_demo", verbosity=0)
    first = submit(instruction("DELI", tx="T-D1"))
    oldest, younger = submit(instruction("RECE", tx="T-R1")), submit(instruction("RECE", tx="T-R2"))
    competitor = submit(instruction("DELI", tx="T-D2"))
    choose = services.optional_fields_match
    raced = []

    def race_then_choose(one, other):
        if not raced:  # a competing match commits once the batch has read its candidates
            raced.append(True)
            thread = threading.Thread(target=_match_in_thread, args=(competitor.pk,))
            thread.start()
            thread.join(30)
        return choose(one, other)

    monkeypatch.setattr(services, "optional_fields_match", race_then_choose)
    made = instructions_match(instruction_ids=[first.pk])
    assert made[first.pk].receive_id == younger.pk
    assert Transfer.objects.get(deliver=competitor).receive_id == oldest.pk


def _match_in_thread(instruction_id: int) -> None:
    instruction_match(instruction_id=instruction_id)
    connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_batches_of_both_sides_matched_at_the_same_moment_make_exactly_one_transfer_per_pair():
    call_command("seed_demo", verbosity=0)
    delivers = [submit(instruction("DELI", tx=f"BR-D{n}", amount=str(n + 1))).pk for n in range(10)]
    receives = [submit(instruction("RECE", tx=f"BR-R{n}", amount=str(n + 1))).pk for n in range(10)]
    mixed = [pk for pair in zip(receives[::-1], delivers, strict=True) for pk in pair]
    barrier = threading.Barrier(3)
    made: list[dict] = []

    def run(ids: list[int]) -> None:
        barrier.wait()
        made.append(instructions_match(instruction_ids=ids))
        connections.close_all()

    threads = [threading.Thread(target=run, args=(ids,)) for ids in (delivers, receives, mixed)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(made) == 3 and sum(len(m) for m in made) == 10
    assert Transfer.objects.count() == 10
    assert set(Instruction.objects.values_list("status", flat=True)) == {"MATCHED"}
    for transfer in Transfer.objects.select_related("deliver", "receive"):
        assert transfer.deliver.quantity == transfer.receive.quantity


def test_an_instruction_whose_matching_task_was_lost_is_queued_again_once_past_the_grace(
    demo, django_capture_on_commit_callbacks, monkeypatch, settings
):
    published = []
    monkeypatch.setattr(tasks.instructions_match, "delay", lambda ids: published.append(ids))
    # this test's transaction never commits: the matching task each submission scheduled is never sent
    lost = submit(instruction("DELI", tx="LOST-D"))
    unmatched = submit(instruction("DELI", tx="LOST-U", amount="7"))
    instruction_match(instruction_id=unmatched.pk)
    grace = dt.timedelta(seconds=settings.SETTLEMENT_MATCH_SWEEP_GRACE_SECONDS)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.instructions_match_redrive(now=now) == []  # its task may still be in the queue
        assert services.instructions_match_redrive(now=now + grace) == [lost.pk]
        # claimed: queued once, not again at every sweep while its task waits in the queue
        assert services.instructions_match_redrive(now=now + grace) == []
        assert services.instructions_match_redrive(now=now + 2 * grace) == [lost.pk]
    assert published == [[lost.pk], [lost.pk]]
    assert PeriodicTask.objects.get(task="hub.settlement.instructions_match_sweep").enabled  # beat runs it


def test_a_matching_sweep_with_the_broker_down_claims_and_returns_rather_than_failing_after_its_commit(
    demo, django_capture_on_commit_callbacks, settings
):
    lost = submit(instruction("DELI", tx="SWEEP-DOWN"))
    settings.SETTLEMENT_MATCH_SWEEP_GRACE_SECONDS = 0
    with broker_unreachable(), django_capture_on_commit_callbacks(execute=True):
        # the claim is committed whatever the broker says: the next sweep past the grace queues it again
        assert services.instructions_match_redrive(now=timezone.now()) == [lost.pk]
    assert Instruction.objects.get(pk=lost.pk).status == "ACCEPTED"


def test_the_matching_sweep_reads_the_accepted_instructions_alone_through_the_open_instructions_index(demo):
    query = selectors.instructions_accepted_overdue(now=timezone.now())[:2000]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the table is tiny here: ask what the index gives
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "instruction_recycling" in plan and "Sort" not in plan, plan


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_instruction_accepted_while_the_broker_was_down_is_matched_by_a_worker_after_the_sweep(settings):
    call_command("seed_demo", verbosity=0)
    with broker_unreachable():
        lost = submit(instruction("DELI", tx="DOWN-D"))
    settings.SETTLEMENT_MATCH_SWEEP_GRACE_SECONDS = 0
    with celery_worker() as worker:
        assert tasks.instructions_match_sweep() == 1
        worker.wait_until(
            lambda: Instruction.objects.get(pk=lost.pk).status == "UNMATCHED",
            timeout=60,
            what="the sweep's matching task did not run",
        )
    assert OutboundMessage.objects.filter(transaction_id="DOWN-D", status="UNMATCHED").exists()
