"""The set-based writers of hub/rows.py: rows_insert and rows_append store what bulk_create would, and
the database still refuses what its constraints forbid."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from hub.messaging.models import OutboundMessage
from hub.registry.models import Participant
from hub.rows import Each, model_new, rows_append, rows_insert, rows_update
from hub.settlement.models import StatusEvent, Transfer
from hub.settlement.statuses import TransferStatus
from tests.hub.settlement.messages import instruction
from tests.hub.settlement.test_matching import pair, submit


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_inserted_rows_read_back_as_bulk_create_stores_them(demo):
    deliver, receive = pair()
    due = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC)

    def transfer() -> Transfer:
        return Transfer(
            deliver=deliver,
            receive=receive,
            security=deliver.security,
            quantity=Decimal("1500.25"),
            intended_settlement_date=dt.date(2026, 11, 26),
            due_at=due,
        )

    with transaction.atomic():
        (ours,) = rows_insert([transfer()])
        theirs = _fields(Transfer.objects.get(pk=ours.pk))
        transaction.set_rollback(True)
    with transaction.atomic():
        (django_made,) = Transfer.objects.bulk_create([transfer()])
        expected = _fields(Transfer.objects.get(pk=django_made.pk))
        transaction.set_rollback(True)
    for stamped in ("id", "created_at", "updated_at"):
        theirs.pop(stamped), expected.pop(stamped)
    assert theirs == expected
    assert theirs["status"] == TransferStatus.MATCHED  # a choice's default, stored as its value
    assert theirs["quantity"] == Decimal("1500.25") and theirs["due_at"] == due


def test_each_row_gets_its_id_in_order_and_its_insert_time(demo):
    participant = Participant.objects.first()
    messages = [
        OutboundMessage(
            participant=participant,
            sequence=n,
            format="MX",
            message_type="sese.024.001.12",
            content_type="application/xml",
            payload=f"<n>{n}</n>".encode(),
        )
        for n in range(1, 4)
    ]
    with transaction.atomic():
        rows_insert(messages)
    stored = {row.pk: row for row in OutboundMessage.objects.filter(pk__in=[m.pk for m in messages])}
    assert [m.pk for m in messages] == sorted(stored)
    for message in messages:
        assert bytes(stored[message.pk].payload) == message.payload
        assert stored[message.pk].sequence == message.sequence
        assert stored[message.pk].created_at == message.created_at is not None
        assert not message._state.adding


def test_appended_rows_read_back_as_the_same_rows_made_as_objects(demo):
    deliver, _receive = pair()
    values = {
        "instruction_id": deliver.pk,
        "to_status": "UNMATCHED",
        "cause": "no counterpart yet",
        "actor": "system",
    }
    with transaction.atomic():
        (appended,) = rows_append(StatusEvent, [values])
        theirs = _fields(StatusEvent.objects.get(pk=appended))
        transaction.set_rollback(True)
    with transaction.atomic():
        (made,) = StatusEvent.objects.bulk_create([StatusEvent(**values)])
        expected = _fields(StatusEvent.objects.get(pk=made.pk))
        transaction.set_rollback(True)
    assert theirs.pop("at") is not None and expected.pop("at") is not None
    theirs.pop("id"), expected.pop("id")
    assert theirs == expected
    assert theirs["from_status"] == "" and theirs["reason_code"] == ""  # left out: the field's default


def test_appended_rows_get_their_ids_in_order(demo):
    participant = Participant.objects.first()
    with transaction.atomic():
        ids = rows_append(
            OutboundMessage,
            [
                {
                    "participant_id": participant.pk,
                    "sequence": n,
                    "format": "MX",
                    "message_type": "sese.024.001.12",
                    "content_type": "application/xml",
                    "payload": f"<n>{n}</n>".encode(),
                }
                for n in range(1, 4)
            ],
        )
    stored = OutboundMessage.objects.in_bulk(ids)
    assert [stored[pk].sequence for pk in ids] == [1, 2, 3]
    assert [bytes(stored[pk].payload) for pk in ids] == [b"<n>1</n>", b"<n>2</n>", b"<n>3</n>"]
    assert len({stored[pk].created_at for pk in ids}) == 1


def test_text_and_bytes_come_back_exactly_whatever_characters_they_hold(demo):
    """The rows travel in COPY's text format, where a backslash, a tab and a line end mean something."""
    deliver, _receive = pair()
    awkward = ["tab\there", "line\nend\r\nand back", "back\\slash \\N \\x41", "", "\\", "Ünïcödé ₽ R 😀"]
    participant = Participant.objects.first()
    with transaction.atomic():
        events = rows_append(
            StatusEvent,
            [
                {"instruction_id": deliver.pk, "to_status": "MATCHED", "cause": c, "actor": "x"}
                for c in awkward
            ],
        )
        (message,) = rows_append(
            OutboundMessage,
            [
                {
                    "participant_id": participant.pk,
                    "sequence": 1,
                    "format": "MT",
                    "message_type": "MT548",
                    "content_type": "text/plain",
                    "payload": bytes(range(256)),
                    "transaction_id": "",
                }
            ],
        )
    stored = StatusEvent.objects.in_bulk(events)
    assert [stored[pk].cause for pk in events] == awkward
    assert [stored[pk].reason_code for pk in events] == [""] * len(awkward)  # empty, not NULL
    kept = OutboundMessage.objects.get(pk=message)
    assert bytes(kept.payload) == bytes(range(256)) and kept.transaction_id == ""


def test_a_value_without_a_copy_text_form_goes_through_an_insert(demo):
    deliver, _receive = pair()
    odd = uuid.UUID("12345678-1234-5678-1234-567812345678")  # the driver writes it; the COPY path does not
    with transaction.atomic():
        (event,) = rows_append(
            StatusEvent, [{"instruction_id": deliver.pk, "to_status": "MATCHED", "cause": odd, "actor": "x"}]
        )
    assert StatusEvent.objects.get(pk=event).cause == str(odd)


def test_a_callable_default_is_called_for_each_appended_row(demo, monkeypatch):
    deliver, _receive = pair()
    cause = StatusEvent._meta.get_field("cause")
    numbers = iter(range(1, 100))
    monkeypatch.setattr(cause, "default", lambda: f"event {next(numbers)}")
    monkeypatch.delitem(cause.__dict__, "_get_default", raising=False)  # Django caches the default's getter
    row = {"instruction_id": deliver.pk, "to_status": "UNMATCHED", "actor": "system"}
    with transaction.atomic():
        ids = rows_append(StatusEvent, [row, row, row])
    stored = StatusEvent.objects.in_bulk(ids)
    assert [stored[pk].cause for pk in ids] == ["event 1", "event 2", "event 3"]


def test_appending_a_field_the_model_lacks_is_refused_before_any_write(demo):
    with pytest.raises(TypeError, match="no field transfer"), transaction.atomic():
        # the relation's name, not its column's
        rows_append(StatusEvent, [{"transfer": 1, "to_status": "MATCHED", "actor": "system"}])
    assert not StatusEvent.objects.filter(to_status="MATCHED").exists()


def test_the_database_still_refuses_a_row_its_constraints_forbid(demo):
    deliver, receive = pair()
    # an event must belong to an instruction or a transfer (a CHECK constraint)
    orphan = StatusEvent(to_status="MATCHED", cause="nobody's", actor="system")
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert([orphan])
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_append(StatusEvent, [{"to_status": "MATCHED", "cause": "nobody's", "actor": "system"}])
    negative = Transfer(
        deliver=deliver,
        receive=receive,
        security=deliver.security,
        quantity=Decimal("-1"),
        intended_settlement_date=dt.date(2026, 11, 26),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert([negative])


def test_rows_update_sets_each_row_its_own_value_and_only_from_the_status_given(demo):
    deliver, receive = pair()
    other_deliver = submit(instruction("DELI", tx="M-D2"))
    other_receive = submit(instruction("RECE", tx="M-R2"))
    with transaction.atomic():
        one, two = rows_insert(
            [
                Transfer(
                    deliver=d,
                    receive=r,
                    security=d.security,
                    quantity=d.quantity,
                    intended_settlement_date=d.intended_settlement_date,
                )
                for d, r in ((deliver, receive), (other_deliver, other_receive))
            ]
        )
        Transfer.objects.filter(pk=two.pk).update(status=TransferStatus.PREPARING)
        changed = rows_update(
            Transfer,
            [one.pk, two.pk],
            {"status": TransferStatus.PREPARING, "attempts": Each({one.pk: 3, two.pk: 4})},
            status=TransferStatus.MATCHED,
        )
    assert changed == {one.pk}
    assert Transfer.objects.get(pk=one.pk).attempts == 3
    assert Transfer.objects.get(pk=two.pk).attempts == 0


def test_model_new_makes_the_object_the_model_itself_would(demo):
    deliver, receive = pair()
    given = dict(
        deliver=deliver,
        receive_id=receive.pk,  # by attribute name too
        security=deliver.security,
        quantity=Decimal("10"),
        intended_settlement_date=dt.date(2026, 11, 26),
    )
    quick = model_new(Transfer, **given)
    assert deliver.transfer_as_deliverer is quick  # a one-to-one's other side too, as the setter does
    usual = Transfer(**given)
    assert _fields(quick) == _fields(usual)
    assert quick.status == TransferStatus.MATCHED and quick.attempts == 0  # the defaults
    assert quick._state.adding and quick.pk is None
    # a related object given is the cached relation, as Transfer(...) keeps it: no query to read it back
    assert Transfer.deliver.is_cached(quick) and quick.deliver is deliver
    assert quick.security is deliver.security


def test_model_new_refuses_a_field_the_model_lacks(demo):
    with pytest.raises(TypeError, match="no field colour"):
        model_new(Transfer, colour="blue")
