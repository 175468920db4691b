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
