"""The migrations: they describe the models as they are, and the hot tables carry only the indexes their
queries use (every index is written again on each status move)."""

import io

import pytest
from django.core.management import call_command
from django.db import connection


def test_the_models_need_no_migration_that_is_not_written(db):
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            "settlement_instruction",
            {
                "settlement_instruction_pkey",
                "instruction_unique_reference",
                "instruction_matching",
                "instruction_recycling",
                "settlement_instruction_participant_id_7f4f83aa",  # a participant's own instructions
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
    ],
)
def test_hot_tables_carry_only_the_indexes_their_queries_use(db, table, expected):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        assert {name for (name,) in cursor.fetchall()} == expected
