"""Matching on the mandatory fields through the matching key, with the optional-field rule."""

import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connections, transaction

from hub.messaging.services import inbound_record
from hub.registry.models import Participant
from hub.settlement.models import Instruction, Transfer
from hub.settlement.services import instruction_match, instruction_submit

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
    import datetime as dt

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
