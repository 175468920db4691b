"""The migrations: they describe the models as they are, and the hot tables carry only the indexes their
queries use (every index is written again on each status move)."""

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from hub.messaging.models import InboundMessage
from hub.settlement.models import Instruction, StatusEvent
from hub.settlement.statuses import INSTRUCTION_OPEN, InstructionStatus


def test_the_models_need_no_migration_that_is_not_written(db):
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_every_migration_applies_on_the_embedded_sqlite_default_of_make_run(tmp_path):
    # SQLite rebuilds a table for many schema changes, and the registry's triggers name other tables:
    # a migration that passes on PostgreSQL can still break `make run`
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {"DEBUG": "true", "HUB_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "hub.settings"}
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "hub.sqlite3").exists() or any(tmp_path.glob("*.sqlite3"))


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            "settlement_instruction",
            {
                "settlement_instruction_pkey",
                "instruction_unique_reference",  # also a participant's own instructions
                "instruction_matching",  # open instructions only
                "instruction_recycling",  # open instructions only
                "settlement_instruction_source_message_id_bd2f568b",  # the instruction of a message
            },
        ),
        (
            "settlement_leg",
            {
                "settlement_leg_pkey",
                "leg_unique_id",
                "leg_unique_position",  # also a transfer's legs
                "leg_lacking",
                "leg_no_usable_answer",  # partial: the legs operations are shown (OTHR), for /health/
                "settlement_leg_csd_id_4c26493e",  # a CSD's legs, for reconciliation
            },
        ),
        (
            "settlement_transfer",
            {
                "settlement_transfer_pkey",
                "settlement_transfer_deliver_id_key",
                "settlement_transfer_receive_id_key",
                "transfer_due",
                "transfer_status_age",
            },
        ),
        ("messaging_outboundmessage", {"messaging_outboundmessage_pkey", "outbound_sequence_unique"}),
        (
            "settlement_statusevent",
            {"settlement_statusevent_pkey", "event_of_instruction", "event_of_transfer"},  # partial
        ),
        (
            "messaging_inboundmessage",
            {
                "messaging_inboundmessage_pkey",
                "messaging_inboundmessage_received_at_9566ebcd",
                "messaging_inboundmessage_sender_id_e43697a6",
                "inbound_replays",  # partial: replays only
            },
        ),
        (
            "messaging_replaykey",
            {
                "messaging_replaykey_pkey",
                "replay_key_unique_per_sender",
                "messaging_replaykey_message_id_9ad72d86",
            },
        ),
    ],
)
def test_hot_tables_carry_only_the_indexes_their_queries_use(db, table, expected):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        assert {name for (name,) in cursor.fetchall()} == expected


@pytest.mark.parametrize(
    ("lookup", "index"),
    [
        (
            lambda: Instruction.objects.filter(matching_key__in=["k1", "k2"], status__in=INSTRUCTION_OPEN),
            "instruction_matching",
        ),
        (
            lambda: Instruction.objects.filter(
                csd_id=1, status__in=INSTRUCTION_OPEN, match_deadline__lt=dt.date(2026, 1, 1)
            ),
            "instruction_recycling",
        ),
        (
            lambda: Instruction.objects.filter(
                status__in=INSTRUCTION_OPEN, updated_at__lt=dt.datetime.now(dt.UTC)
            ),
            "instruction_recycling",
        ),
    ],
)
def test_the_open_instruction_lookups_can_use_the_indexes_that_hold_open_instructions_only(db, lookup, index):
    """A partial index serves only a query whose conditions imply the index's: these must keep asking
    for the open statuses as the indexes do. The other open-instruction index is dropped for the test
    (the test's transaction rolls it back), as are sequential scans (the test tables are tiny)."""
    other = ({"instruction_matching", "instruction_recycling"} - {index}).pop()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX "{other}"')
        cursor.execute("SET LOCAL enable_seqscan = off")
        assert index in lookup().explain()


def test_an_instruction_that_matches_leaves_the_open_instruction_indexes(db):
    """The point of the condition: a matched instruction is written again without an entry in them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname IN ('instruction_matching', 'instruction_recycling')"
        )
        definitions = [definition for (definition,) in cursor.fetchall()]
    assert len(definitions) == 2
    assert all("WHERE" in d and "'ACCEPTED'" in d and "'UNMATCHED'" in d for d in definitions)
    assert InstructionStatus.MATCHED not in INSTRUCTION_OPEN


@pytest.mark.parametrize(
    ("lookup", "index"),
    [
        (lambda: StatusEvent.objects.filter(instruction_id=1), "event_of_instruction"),
        (lambda: StatusEvent.objects.filter(transfer_id=1), "event_of_transfer"),
        (lambda: InboundMessage.objects.filter(original_id=1), "inbound_replays"),
    ],
)
def test_lookups_by_a_nullable_key_use_its_index_of_the_rows_where_it_is_set(db, lookup, index):
    """An equality implies the key is set, so the partial index serves it (sequential scans off: the
    test tables are tiny)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        assert index in lookup().explain()


def test_open_instructions_keyed_with_a_branch_xxx_are_keyed_again_as_intake_keys_them(db):
    from importlib import import_module

    from django.apps import apps

    from hub.settlement.services import instruction_match

    from .settlement.messages import STRATE_BROKER, instruction
    from .settlement.test_matching import submit

    call_command("seed_demo", verbosity=0)
    deliver = submit(instruction("DELI", tx="RK-D"))
    # as intake wrote it before: the counterparty as sent, and a key its counterpart never has
    Instruction.objects.filter(pk=deliver.pk).update(
        counterparty_bic=f"{STRATE_BROKER}XXX", counterparty_client_bic="CLNTZAJJXXX", matching_key="0" * 64
    )
    receive = submit(instruction("RECE", tx="RK-R"))
    import_module("hub.settlement.migrations.0012_open_instructions_keyed_by_registered_bic").rekey(
        apps, None
    )
    deliver.refresh_from_db()
    assert (deliver.counterparty_bic, deliver.counterparty_client_bic) == (STRATE_BROKER, "CLNTZAJJ")
    assert deliver.matching_key == receive.matching_key
    assert instruction_match(instruction_id=receive.pk) is not None
