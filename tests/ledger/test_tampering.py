"""Any edit of the stored ledger, made with raw SQL around the append-only triggers (as a superuser could),
is caught by ``manage.py ledger_verify``, which names the first break and exits non-zero."""

import base64
import contextlib

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from hub.ledger import selectors, services
from hub.ledger.errors import HubKeyRecordInvalid
from hub.ledger.models import Block, Entry
from hub.ops import health

from .conftest import append_and_seal, drafts

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def triggers_off():
    """What a superuser could do: switch the append-only triggers off (inside the test's transaction)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # no user triggers fire
            yield cursor
            cursor.execute("SET LOCAL session_replication_role = origin")
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type='trigger' AND name LIKE 'ledger_%'"
            )
            saved = cursor.fetchall()
            for name, _sql in saved:
                cursor.execute(f"DROP TRIGGER {name}")
            yield cursor
            for _name, sql in saved:
                cursor.execute(sql)


def flip_hex(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


def flip_base64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[7] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.fixture
def chain():
    blocks = append_and_seal(40, block_size=8)
    assert len(blocks) == 6 and selectors.chain_verify().first_break is None
    call_command("ledger_verify")
    return blocks


def third_blocks_entry() -> Entry:
    return Entry.objects.filter(block__height=3).order_by("id")[2]


def assert_first_break(where: str, problem: str) -> None:
    report = selectors.chain_verify()
    assert report.first_break is not None, "the edit went unnoticed"
    assert report.first_break.where == where, report.findings
    assert problem in report.first_break.problem, report.findings
    with pytest.raises(CommandError, match=f"first break at {where}: "):
        call_command("ledger_verify")


def test_a_flipped_byte_in_an_entrys_record_is_named(chain):
    entry = third_blocks_entry()
    with triggers_off() as sql:
        sql.execute(
            "UPDATE ledger_entry SET record = replace(record, 'RU00', 'RU01') WHERE id = %s", [entry.id]
        )
    assert_first_break(f"entry {entry.id}", "does not hash to its record hash")


def test_a_flipped_byte_in_an_entrys_record_hash_breaks_its_blocks_root(chain):
    entry = third_blocks_entry()
    with triggers_off() as sql:
        sql.execute(
            "UPDATE ledger_entry SET record_hash = %s WHERE id = %s", [flip_hex(entry.record_hash), entry.id]
        )
    # the record no longer matches its hash either: the entry is named first
    assert_first_break(f"entry {entry.id}", "record")


def test_an_entry_whose_csds_or_reference_are_edited_breaks_its_blocks_root(chain):
    entry = third_blocks_entry()
    with triggers_off() as sql:
        sql.execute("UPDATE ledger_entry SET reference = %s WHERE id = %s", [entry.reference + "X", entry.id])
    assert_first_break("block 3", "Merkle root")


def test_an_entry_moved_to_another_block_is_caught(chain):
    entry = third_blocks_entry()
    with triggers_off() as sql:
        sql.execute("UPDATE ledger_entry SET block_id = %s WHERE id = %s", [chain[4].id, entry.id])
    assert_first_break("block 3", "entries")


def test_a_deleted_entry_is_caught(chain):
    entry = third_blocks_entry()
    with triggers_off() as sql:
        sql.execute("DELETE FROM ledger_entry WHERE id = %s", [entry.id])
    assert_first_break("block 3", "holds 7 entries, its header says 8")


@pytest.mark.parametrize(
    ("column", "change", "problem"),
    [
        ("merkle_root", flip_hex, "does not hash to its stored block hash"),
        ("previous_hash", flip_hex, "previous hash"),
        ("block_hash", flip_hex, "does not hash to its stored block hash"),
        ("hub_signature", flip_base64, "signature does not verify"),
        ("csds", lambda value: value.replace("NSD", "NSE"), "does not hash to its stored block hash"),
    ],
)
def test_a_flipped_byte_in_a_block_header_or_signature_is_named(chain, column, change, problem):
    block = Block.objects.get(height=3)
    with triggers_off() as sql:
        statement = f"UPDATE ledger_block SET {column} = %s WHERE id = %s"  # noqa: S608 - column from the test table
        sql.execute(statement, [change(getattr(block, column)), block.id])
    assert_first_break("block 3", problem)


def test_a_block_sealed_at_another_moment_is_named(chain):
    with triggers_off() as sql:
        if connection.vendor == "postgresql":
            sql.execute(
                "UPDATE ledger_block SET sealed_at = sealed_at + interval '1 microsecond' WHERE height = 3"
            )
        else:
            sql.execute(  # the last digit of the microseconds
                "UPDATE ledger_block SET sealed_at = substr(sealed_at, 1, length(sealed_at) - 1) || "
                "CASE WHEN substr(sealed_at, -1) = '1' THEN '2' ELSE '1' END WHERE height = 3"
            )
    assert_first_break("block 3", "does not hash to its stored block hash")


def test_a_flipped_byte_in_an_endorsement_is_named(chain):
    with triggers_off() as sql:
        sql.execute(
            "SELECT e.id, e.signature, e.csd FROM ledger_endorsement e JOIN ledger_block b ON b.id = e.block_id "
            "WHERE b.height = 3 ORDER BY e.csd LIMIT 1"
        )
        endorsement_id, signature, csd = sql.fetchone()
        sql.execute(
            "UPDATE ledger_endorsement SET signature = %s WHERE id = %s",
            [flip_base64(signature), endorsement_id],
        )
    assert_first_break("block 3", f"endorsement by {csd}")


def test_a_deleted_endorsement_is_named(chain):
    with triggers_off() as sql:
        sql.execute("DELETE FROM ledger_endorsement WHERE block_id = %s AND csd = 'NSD'", [chain[2].id])
    assert_first_break("block 3", "no endorsement by NSD")


def test_two_blocks_swapped_in_order_are_caught_at_the_first_of_them(chain):
    with triggers_off() as sql:
        sql.execute("UPDATE ledger_block SET height = 1000 WHERE height = 3")
        sql.execute("UPDATE ledger_block SET height = 3 WHERE height = 4")
        sql.execute("UPDATE ledger_block SET height = 4 WHERE height = 1000")
    assert_first_break("block 3", "previous hash")


def test_a_block_removed_from_the_middle_of_the_chain_is_caught(chain):
    with triggers_off() as sql:
        sql.execute("UPDATE ledger_entry SET block_id = NULL WHERE block_id = %s", [chain[3].id])
        sql.execute("DELETE FROM ledger_endorsement WHERE block_id = %s", [chain[3].id])
        sql.execute("DELETE FROM ledger_block WHERE id = %s", [chain[3].id])
    assert_first_break("block 5", "out of order")


@pytest.mark.parametrize(
    "record",
    [
        "not json",
        "[]",
        '"hub"',
        pytest.param("[" * 100_000, id="too deep"),
        '{"key_id": "' + "a" * 5000 + '"}',
    ],
)
def test_a_hub_key_announcement_edited_into_no_json_object_is_named_and_nothing_is_sealed_on_it(
    chain, record
):
    entry = Entry.objects.get(kind="HUB_KEY")
    with triggers_off() as sql:
        sql.execute("UPDATE ledger_entry SET record = %s WHERE id = %s", [record, entry.id])
    findings = [str(f) for f in selectors.chain_verify().findings]
    assert f"entry {entry.id}: its hub key announcement is not one (a small JSON object)" in findings
    assert_first_break(f"entry {entry.id}", "does not hash to its record hash")
    services.entries_append(drafts=drafts(1, start=100))
    with pytest.raises(HubKeyRecordInvalid, match=f"announcement in ledger entry {entry.id} is unreadable"):
        services.blocks_seal_pending()
    with pytest.raises(CommandError, match=f"announcement in ledger entry {entry.id} is unreadable"):
        call_command("ledger_proof", str(Entry.objects.filter(kind="COMMIT").first().id))


def test_a_hub_key_record_edited_stops_sealing_alone_the_blocks_sealed_before_are_still_endorsed(
    client, admin_client, monkeypatch, caplog
):
    services.entries_append(drafts=drafts(5))
    [sealed] = services.blocks_seal_pending()  # sealed, not yet endorsed, when the record was edited
    entry = Entry.objects.get(kind="HUB_KEY")
    with triggers_off() as sql:
        sql.execute("UPDATE ledger_entry SET record = 'not json' WHERE id = %s", [entry.id])
    services.entries_append(drafts=drafts(1, start=100))
    with caplog.at_level("ERROR", logger="hub.ledger.services"):
        assert services.blocks_seal_and_finalise() == []
    assert set(sealed.endorsements.values_list("csd", flat=True)) == set(sealed.csd_codes)
    assert Entry.objects.filter(block__isnull=True).count() == 1  # nothing sealed on top of the edit
    [error] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert f"the hub seals no new blocks: the hub key announcement in ledger entry {entry.id}" in error
    from hub.settlement.tasks import transfers_anchor_and_release

    assert transfers_anchor_and_release() == 0  # and the release of final transfers is reached

    workers_up = health.ComponentHealth(ok=True, detail="a worker answered the probe", latency_ms=1.0)
    monkeypatch.setattr(health.worker_probe, "result", lambda: workers_up)
    answer = admin_client.get("/health/")
    assert answer.status_code == 503 and answer.json()["ledger"]["detail"].startswith("the hub seals no new")
    assert client.get("/health/").json()["ledger"]["detail"] == "The hub seals no new blocks"
