"""Cancellation of a matched pair by both parties at once (sese.020 from each side, as T2S requires)."""

import contextlib
import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from hub.registry.models import Participant
from hub.settlement.models import Instruction, Transfer
from hub.settlement.selectors import transfers_due
from hub.settlement.services import instruction_cancel, instruction_match
from iso20022 import models as m

from .messages import NSD_BROKER, STRATE_BROKER, instruction
from .test_matching import submit


@pytest.mark.django_db(transaction=True)
def test_both_sides_cancelling_at_the_same_moment_cancel_the_transfer_without_a_deadlock():
    call_command("seed_demo", verbosity=0)
    submit(instruction("DELI", tx="BOTH-D"))
    transfer = instruction_match(instruction_id=submit(instruction("RECE", tx="BOTH-R")).pk)
    first_lock_taken, go_on = threading.Event(), threading.Event()
    outcomes, failures = {}, []

    def pause_after_first_lock(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "FOR UPDATE" in sql and not first_lock_taken.is_set():
            first_lock_taken.set()  # the receiver's side holds its first lock ...
            go_on.wait(10)  # ... while the deliverer's side runs into it
        return result

    def cancel(bic: str, tx: str, *, paused: bool = False) -> None:
        try:
            pause = connection.execute_wrapper(pause_after_first_lock) if paused else contextlib.nullcontext()
            with pause, transaction.atomic():
                outcomes[bic] = instruction_cancel(
                    participant=Participant.objects.get(bic=bic), transaction_id=tx
                ).processing.value
        except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
            failures.append(exc)
        finally:
            connections.close_all()

    receiver = threading.Thread(target=cancel, args=(STRATE_BROKER, "BOTH-R"), kwargs={"paused": True})
    receiver.start()
    assert first_lock_taken.wait(10)
    deliverer = threading.Thread(target=cancel, args=(NSD_BROKER, "BOTH-D"))
    deliverer.start()
    deliverer.join(2)  # blocked behind the receiver's lock (or, with locks in another order, in a cycle)
    go_on.set()
    receiver.join(30)
    deliverer.join(30)
    assert failures == []
    assert sorted(outcomes.values()) == ["CAND", "CANP"]  # one pending the other's request, one cancelled
    cancelled = Transfer.objects.get(pk=transfer.pk)
    assert cancelled.status == "CANCELLED" and cancelled.due_at is None  # the sweeper has no more to do
    assert set(Instruction.objects.values_list("status", flat=True)) == {"CANCELLED"}


def test_the_sweeper_passes_over_finished_transfers_even_with_a_due_time(db):
    call_command("seed_demo", verbosity=0)
    submit(instruction("DELI", tx="SW-D"))
    transfer = instruction_match(instruction_id=submit(instruction("RECE", tx="SW-R")).pk)
    later = timezone.now() + dt.timedelta(hours=1)
    assert transfers_due(now=later) == [transfer.pk]
    Transfer.objects.filter(pk=transfer.pk).update(status="CANCELLED")  # as cancellations left them
    assert transfers_due(now=later) == []


# --- a cancellation one side asked for, answered for good once settlement starts ---------------------------


def cancel_through_the_api(side: str, tx: str, *, fmt: str = "MX") -> tuple[int, tuple[str, ...]]:
    """One side's cancellation as its participant sends it; returns the answer's HTTP status and reasons."""
    from hub.settlement.intake import message_receive

    from .messages import as_mt, as_mx, cancellation

    request = cancellation(side, tx=tx)
    participant = Participant.objects.get(bic=request.account_owner_bic)
    raw, content_type = (as_mx(request), "application/xml") if fmt == "MX" else (as_mt(request), "text/plain")
    answer = message_receive(participant=participant, raw=raw, content_type=content_type)
    return answer.http_status, answer.reason_codes


def sent(bic: str, status: str) -> list[bytes]:
    from hub.messaging.models import OutboundMessage

    return [
        bytes(payload)
        for payload in OutboundMessage.objects.filter(participant__bic=bic, status=status)
        .order_by("sequence")
        .values_list("payload", flat=True)
    ]


def test_a_cancellation_pending_the_counterparty_is_denied_once_settlement_starts(books):
    from iso20022 import mx

    from .messages import NSD_A, STRATE_A, pair
    from .test_protocol import matched, run, statuses_sent

    transfer = matched(*pair(NSD_A, STRATE_A, tx="CXL"))
    assert cancel_through_the_api("DELI", "CXL-D") == (200, ("CONF",))  # pending the counterparty's
    transfer = run(transfer, books)
    # settlement started before the counterparty asked: the requester gets its final sese.027, denied
    (denial,) = sent("DEMARUMM", "CANCELLATION_DENIED")
    message = mx.parse(denial)
    assert message.message_id.startswith("sese.027")
    status = message.body
    assert status.cancellation_request_reference == "CXL-CXL-D-DELI"  # the sese.020's BizMsgIdr
    assert status.transaction_id == "CXL-D"
    assert status.processing.code == m.ProcessingStatusCode.DENIED
    assert [r.code for r in status.processing.reasons] == ["DPRG"]
    assert message.header.related_business_message_id == "CXL-CXL-D-DELI"
    assert not Instruction.objects.filter(cancellation_requested=True).exists()
    # answered once: settling tells it nothing more of its cancellation
    assert run(transfer, books).status == "SETTLED"
    assert statuses_sent("DEMARUMM")[-2:] == ["CANCELLATION_DENIED", "SETTLED"]
    assert sent("DEMAZAJJ", "CANCELLATION_DENIED") == []


def test_an_mt_requester_gets_its_denial_as_an_mt548_naming_its_cancellation(books):
    from .messages import NSD_A, STRATE_A, pair
    from .test_protocol import matched, run

    transfer = matched(*pair(NSD_A, STRATE_A, tx="CXM"))
    assert cancel_through_the_api("RECE", "CXM-R", fmt="MT") == (200, ("CONF",))
    run(transfer, books)
    (denial,) = sent("DEMAZAJJ", "CANCELLATION_DENIED")
    assert b":25D::CPRC//DEND" in denial and b":24B::DEND//DPRG" in denial
    assert b":20C::RELA//CXL-CXM-R-RECE" in denial and b":20C::PREV//CXM-R" in denial


def test_a_cancellation_still_pending_when_its_transfer_settles_is_denied_as_settled(books):
    from iso20022 import mx

    from .messages import NSD_A, STRATE_A, pair
    from .test_protocol import advance_batch, matched, run

    transfer = matched(*pair(NSD_A, STRATE_A, tx="CXS"))
    advance_batch([transfer], books.adapter_for)
    transfer.refresh_from_db()
    assert transfer.status == "PREPARED"
    # asked for while it was matched, before its requester was told anything more (as before this rule)
    Instruction.objects.filter(transaction_id="CXS-D").update(cancellation_requested=True)
    assert run(transfer, books).status == "SETTLED"
    (denial,) = sent("DEMARUMM", "CANCELLATION_DENIED")
    status = mx.parse(denial).body
    assert status.cancellation_request_reference == "CXS-D"  # no request on record: the instruction's
    assert [r.code for r in status.processing.reasons] == ["DSET"]
    assert not Instruction.objects.filter(cancellation_requested=True).exists()


def test_a_pending_cancellation_is_answered_from_the_request_recorded_on_its_instruction(books):
    from django.test.utils import CaptureQueriesContext

    from hub.messaging.models import InboundMessage

    from .messages import NSD_A, STRATE_A, pair
    from .test_protocol import matched, run

    transfer = matched(*pair(NSD_A, STRATE_A, tx="CXR"))
    assert cancel_through_the_api("DELI", "CXR-D") == (200, ("CONF",))
    request = InboundMessage.objects.get(business_message_id="CXL-CXR-D-DELI")
    assert Instruction.objects.get(transaction_id="CXR-D").cancellation_message_id == request.pk
    with CaptureQueriesContext(connection) as queries:
        run(transfer, books)
    # read by its id, not searched for among the sender's inbound messages inside the start's transaction
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "messaging_inboundmessage"' in q["sql"]]
    assert len(reads) == 1 and '"sender_id"' not in reads[0]
    (denial,) = sent("DEMARUMM", "CANCELLATION_DENIED")
    assert b"<BizMsgIdr>CXL-CXR-D-DELI</BizMsgIdr>" in denial  # the request named, in the answer's header


def test_a_cancellation_accepted_after_the_protocol_read_its_instruction_is_still_named_in_its_denial(
    books, monkeypatch
):
    from hub.settlement import protocol
    from iso20022 import mx

    from .messages import NSD_A, STRATE_A, pair
    from .test_protocol import matched, run

    transfer = matched(*pair(NSD_A, STRATE_A, tx="CXL8"))
    csds_of = protocol._csds_of

    def then_the_deliverer_asks_to_cancel(transfer_row):
        # the run has read the instructions; the request lands before it moves the transfer on
        if not Instruction.objects.filter(transaction_id="CXL8-D", cancellation_requested=True).exists():
            assert cancel_through_the_api("DELI", "CXL8-D") == (200, ("CONF",))
        return csds_of(transfer_row)

    monkeypatch.setattr(protocol, "_csds_of", then_the_deliverer_asks_to_cancel)
    run(transfer, books)
    (denial,) = sent("DEMARUMM", "CANCELLATION_DENIED")
    assert mx.parse(denial).body.cancellation_request_reference == "CXL-CXL8-D-DELI"


def test_a_cancellation_pending_when_the_migration_runs_is_recorded_on_its_instruction(db):
    from importlib import import_module

    from django.apps import apps

    from hub.messaging.models import InboundMessage

    from .messages import NSD_A, STRATE_A, pair
    from .test_protocol import matched

    call_command("seed_demo", verbosity=0)
    matched(*pair(NSD_A, STRATE_A, tx="CXM8"))
    assert cancel_through_the_api("RECE", "CXM8-R", fmt="MT") == (200, ("CONF",))
    Instruction.objects.filter(transaction_id="CXM8-R").update(cancellation_message=None)  # as before 0018
    import_module("hub.settlement.migrations.0018_instruction_cancellation_message").record_pending(
        apps, None
    )
    request = InboundMessage.objects.get(
        transaction_id="CXM8-R", message_type__startswith="MT", outcome="ACCEPTED"
    )
    recorded = Instruction.objects.get(transaction_id="CXM8-R").cancellation_message_id
    assert recorded == request.pk and b":23G:CANC" in bytes(request.raw)
