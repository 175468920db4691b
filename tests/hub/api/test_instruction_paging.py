"""Paging through a participant's instructions with ``after`` misses none of them, even one whose
transaction commits after a later one of the same participant."""

import threading

import pytest
from django.db import connections

from hub.settlement import intake
from hub.settlement.models import Instruction

from ..settlement.messages import as_mx, instruction
from .conftest import client_for, post


def all_pages(client, after: int = 0) -> list[int]:
    """Every id the list gives, page after page, as a client pulls it; an empty page keeps the cursor."""
    seen = []
    while page := client.get(f"/api/v1/instructions/?after={after}&limit=1").json():
        seen.append(page[0]["id"])
        after = page[0]["id"]
    return seen


@pytest.mark.django_db(transaction=True)
def test_an_instruction_committed_after_a_later_one_is_still_listed_to_a_client_paging_meanwhile(
    demo, monkeypatch
):
    client = client_for("DEMARUMM")
    inserted, go = threading.Event(), threading.Event()
    enqueue = intake.outbound_enqueue_many

    def slow_enqueue(**kwargs):  # the slow intake has inserted its instruction: it waits before going on
        if threading.current_thread().name == "slow":
            inserted.set()
            go.wait(30)
        return enqueue(**kwargs)

    monkeypatch.setattr(intake, "outbound_enqueue_many", slow_enqueue)

    def send(tx: str) -> None:
        try:
            post(client_for("DEMARUMM"), as_mx(instruction("DELI", tx=tx)))
        finally:
            connections.close_all()

    slow = threading.Thread(target=send, args=("SLOW",), name="slow")
    slow.start()
    assert inserted.wait(30)
    fast = threading.Thread(target=send, args=("FAST",), name="fast")
    fast.start()
    fast.join(2)  # it commits now, or waits for the slow one
    seen = all_pages(client)  # a client pulling meanwhile
    go.set()
    slow.join(30)
    fast.join(30)
    seen += all_pages(client, after=seen[-1] if seen else 0)  # and once more after both committed
    assert len(seen) == 2
    assert sorted(seen) == sorted(Instruction.objects.values_list("pk", flat=True))
