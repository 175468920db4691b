"""Hub keys: from the environment or files, a development key only when allowed, and rotation recorded in
the chain so that blocks signed by an old key still verify."""

import json
import logging
import re

import pytest
from django.core.management import CommandError, call_command

from hub.ledger import keys, selectors, services, verifier
from hub.ledger.errors import HubKeyMissing, HubKeyNotInForce, HubKeyUnusable
from hub.ledger.models import Alarm, Block, Entry

from .conftest import append_and_seal, drafts

pytestmark = pytest.mark.django_db


def test_with_nothing_configured_in_production_the_hub_refuses_to_seal(settings, tmp_path, reference):
    settings.LEDGER_GENERATE_DEV_KEYS = False
    settings.LEDGER_KEY_DIR = tmp_path
    services.entry_append(kind="COMMIT", reference=reference, csds=["NSD"], record={})
    with pytest.raises(HubKeyMissing, match="refuses to seal blocks. Set LEDGER_HUB_KEY"):
        services.blocks_seal_pending()
    assert not Block.objects.exists()


def test_a_development_key_is_generated_once_and_logged_as_such(settings, tmp_path, caplog):
    settings.LEDGER_GENERATE_DEV_KEYS = True
    settings.LEDGER_KEY_DIR = tmp_path
    with caplog.at_level(logging.WARNING, logger="hub.ledger.keys"):
        first = keys.hub_signer()
        second = keys.hub_signer()
    assert first.key_id == second.key_id
    assert (tmp_path / "hub.key").stat().st_mode & 0o777 == 0o600
    assert [r.message for r in caplog.records if "DEVELOPMENT KEY" in r.message] == [
        f"DEVELOPMENT KEY: generated a new Ed25519 key for hub (key id {first.key_id}) in {tmp_path / 'hub.key'}. "
        "Never use it in production."
    ]


def test_the_hub_key_is_read_from_the_environment_or_a_file_before_any_development_key(settings, tmp_path):
    chosen = keys.Signer.generate()
    settings.LEDGER_HUB_KEY = chosen.seed_text
    assert keys.hub_signer().key_id == chosen.key_id
    settings.LEDGER_HUB_KEY = None
    settings.LEDGER_HUB_KEY_FILE = str(tmp_path / "custom.key")
    with pytest.raises(HubKeyMissing, match="does not exist"):
        keys.hub_signer()
    keys.key_file_write(tmp_path / "custom.key", chosen)
    assert keys.hub_signer().key_id == chosen.key_id


def test_a_seed_of_the_wrong_length_is_refused_with_its_source_named(settings):
    settings.LEDGER_HUB_KEY = "c2hvcnQ="
    with pytest.raises(HubKeyUnusable, match="LEDGER_HUB_KEY holds 5 bytes"):
        keys.hub_signer()


def test_a_hub_key_that_cannot_be_used_stops_sealing_with_an_alarm_not_a_traceback(settings, reference):
    settings.LEDGER_HUB_KEY = "not base64!"
    services.entry_append(kind="COMMIT", reference=reference, csds=["NSD"], record={})
    assert services.blocks_seal_and_finalise() == []
    [alarm] = Alarm.objects.all()
    assert alarm.kind == "SEALING" and "LEDGER_HUB_KEY is not base64" in alarm.message


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("LEDGER_HUB_KEY", "c2hvcnQ=", "LEDGER_HUB_KEY holds 5 bytes; an Ed25519 seed has 32"),
        ("LEDGER_HUB_KEY", "not base64!", "LEDGER_HUB_KEY is not base64"),
        ("LEDGER_HUB_KEY_FILE", "garbage", "is not base64"),
        ("LEDGER_HUB_KEY_FILE", "missing", "does not exist"),
    ],
)
def test_ledger_verify_says_a_hub_key_that_cannot_be_used_is_unusable_input(
    settings, tmp_path, setting, value, problem
):
    append_and_seal(3, block_size=8)
    if setting == "LEDGER_HUB_KEY_FILE":
        path = tmp_path / "hub.key"
        if value == "garbage":
            path.write_text("\x00 not a key \x00")
        value = str(path)
    setattr(settings, setting, value)
    with pytest.raises(CommandError, match=re.escape(problem)) as refused:
        call_command("ledger_verify")
    assert refused.value.returncode == 2


def test_after_a_rotation_new_blocks_use_the_new_key_and_old_blocks_still_verify(settings):
    old, new = keys.Signer.generate(), keys.Signer.generate()
    settings.LEDGER_HUB_KEY = old.seed_text
    append_and_seal(20, block_size=8)
    rotation_block = services.hub_key_rotate(current=old, new=new)
    assert rotation_block.hub_key_id == old.key_id
    announcement = Entry.objects.get(block=rotation_block, kind="HUB_KEY")
    assert f'"previous_key_id":"{old.key_id}"' in announcement.record

    with pytest.raises(HubKeyNotInForce, match=f"not the key in force \\({new.key_id}\\)"):
        services.entries_append(drafts=drafts(1, start=100))
        services.block_seal(signer=old)
    settings.LEDGER_HUB_KEY = new.seed_text
    later = append_and_seal(10, block_size=8, start=200)
    assert {b.hub_key_id for b in later} == {new.key_id}
    assert selectors.hub_key_in_force_id() == new.key_id
    assert set(selectors.hub_public_keys()) == {old.key_id, new.key_id}

    report = selectors.chain_verify()
    assert report.first_break is None, report.findings
    assert {b.hub_key_id for b in Block.objects.all()} == {old.key_id, new.key_id}


def test_a_block_signed_by_a_key_never_handed_over_to_is_a_break(settings):
    append_and_seal(3, block_size=8)
    intruder = keys.Signer.generate()
    from hub.ledger.services import _seal_locked  # the sealer without its key check: what a forger would do

    services.entries_append(drafts=drafts(2, start=50))
    _seal_locked(signer=intruder, max_entries=10)
    first_key = selectors.hub_key_announcements()[0]["key_id"]
    report = selectors.chain_verify()
    expected = f"block 2: signed with hub key {intruder.key_id}, the key in force is {first_key}"
    assert str(report.first_break) == expected


def test_rotation_needs_the_key_in_force(settings):
    append_and_seal(2, block_size=8)
    stranger, new = keys.Signer.generate(), keys.Signer.generate()
    with pytest.raises(HubKeyNotInForce):
        services.hub_key_rotate(current=stranger, new=new)


def test_the_rotation_command_announces_the_key_in_a_file(settings, tmp_path):
    append_and_seal(2, block_size=8)
    new = keys.Signer.generate()
    keys.key_file_write(tmp_path / "next.key", new)
    call_command("ledger_rotate_key", str(tmp_path / "next.key"))
    assert selectors.hub_key_in_force_id() == new.key_id
    with pytest.raises(CommandError, match="the new hub key is the key already in force|not"):
        call_command("ledger_rotate_key", str(tmp_path / "next.key"))


def test_a_chain_rewritten_from_its_first_block_with_a_foreign_key_is_caught_against_the_configured_key(
    settings,
):
    from hub.ledger.services import _seal_locked  # the sealer without its key check: what a forger would do

    settings.LEDGER_HUB_KEY = keys.Signer.generate().seed_text
    forger = keys.Signer.generate()
    services.entries_append(drafts=drafts(3))
    services._announcement(new=forger, previous=None)
    block = _seal_locked(signer=forger, max_entries=10)
    services.block_endorse(block=block)  # local CSD keys sit with the hub: only the hub key pins the chain
    assert selectors.chain_verify().first_break is None  # self-consistent on its own
    with pytest.raises(CommandError, match=f"the chain's hub key in force is {forger.key_id}, the hub is"):
        call_command("ledger_verify")


def test_processes_generating_the_development_key_at_once_all_read_one_whole_key(settings, tmp_path):
    import threading

    settings.LEDGER_KEY_DIR = tmp_path
    barrier, found = threading.Barrier(8), []

    def generate() -> None:
        barrier.wait(timeout=10)
        try:
            found.append(keys.hub_signer().key_id)
        except ValueError as exc:  # a half-written file would show up here
            found.append(exc)

    threads = [threading.Thread(target=generate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(found) == 8 and len(set(found)) == 1 and isinstance(found[0], str), found
    assert [p.name for p in tmp_path.iterdir()] == ["hub.key"]


def test_a_chain_rebuilt_with_a_foreign_key_and_handed_over_to_the_hubs_public_key_does_not_pass(settings):
    # someone with database access but without the hub's private key: a chain of their own from its first
    # block, then an announcement handing it over to the hub's real public key, signed by their key alone
    from hub.ledger.services import _seal_locked  # the sealer without its key check: what a forger would do

    real, forger = keys.Signer.generate(), keys.Signer.generate()
    settings.LEDGER_HUB_KEY = real.seed_text
    services.entries_append(drafts=drafts(3))
    services._announcement(new=forger, previous=None)
    services.block_endorse(block=_seal_locked(signer=forger, max_entries=10))
    statement = verifier.hub_key_statement(
        key_id=real.key_id, public_key=real.public_key, previous_key_id=forger.key_id
    )
    services.entry_append_hub_key(
        record={
            "key_id": real.key_id,
            "public_key": real.public_key,
            "previous_key_id": forger.key_id,
            "signature": forger.sign(statement),
        }
    )
    _seal_locked(signer=forger, max_entries=10)
    findings = [str(f) for f in selectors.chain_verify(hub_key_id=real.key_id).findings]
    assert findings == [
        f"block 2: the announcement of hub key {real.key_id} is not signed by {real.key_id} itself",
        f"block 2: the chain's hub key in force is {forger.key_id}, the hub is configured with {real.key_id}",
    ]
    with pytest.raises(
        CommandError, match=f"first break at block 2: the announcement of hub key {real.key_id}"
    ):
        call_command("ledger_verify")


def test_a_rotation_is_signed_by_the_key_in_force_and_by_the_new_key_itself(settings):
    old, new = keys.Signer.generate(), keys.Signer.generate()
    settings.LEDGER_HUB_KEY = old.seed_text
    append_and_seal(2, block_size=8)
    block = services.hub_key_rotate(current=old, new=new)
    record = json.loads(Entry.objects.get(block=block, kind="HUB_KEY").record)
    statement = verifier.hub_key_statement(
        key_id=new.key_id, public_key=new.public_key, previous_key_id=old.key_id
    )
    assert verifier.signature_holds(old.public_key, statement, record["signature"])
    assert verifier.signature_holds(new.public_key, statement, record["possession"])
    assert selectors.chain_verify(hub_key_id=new.key_id).first_break is None


def test_without_a_hub_key_configured_ledger_verify_says_the_key_in_force_was_not_pinned(
    settings, tmp_path, capsys
):
    settings.LEDGER_KEY_DIR = tmp_path
    settings.LEDGER_HUB_KEY = keys.Signer.generate().seed_text
    append_and_seal(3, block_size=8)
    settings.LEDGER_HUB_KEY = None  # a CSD's or an auditor's machine, say: no hub key there
    call_command("ledger_verify")
    out, err = capsys.readouterr()
    assert out.startswith("OK: 1 blocks, 4 entries verified") and "hub key in force not pinned" in out
    assert "the chain's hub key in force was not pinned: no hub key is configured here" in err
    assert "give --keys" in err
