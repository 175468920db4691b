"""Operations cut a participant's API access off: one token (a leaked key) or all (a participant leaving)."""

import pytest
from django.core.management import CommandError, call_command

from hub.registry.models import Participant
from hub.registry.services import participant_token_issue


@pytest.fixture
def keys(db):
    call_command("seed_demo", verbosity=0)
    participant = Participant.objects.get(bic="DEMBZAJJ")
    return [participant_token_issue(participant=participant, label=str(n)) for n in range(3)]


def accepted(client, key: str) -> bool:
    return client.get("/api/v1/accounts/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_revoke_token_cuts_off_the_one_key_named_and_leaves_the_others(keys, client, capsys):
    assert all(accepted(client, key) for key in keys)
    call_command("revoke_token", "dembzajj", "--prefix", keys[0])
    assert capsys.readouterr().out == f"revoked DEMBZAJJ {keys[0][:12]}…\n"
    assert [accepted(client, key) for key in keys] == [False, True, True]
    with pytest.raises(CommandError, match="no live token"):
        call_command("revoke_token", "DEMBZAJJ", "--prefix", keys[0])


def test_revoke_token_with_all_cuts_off_every_key_of_a_participant_and_no_one_elses(keys, client):
    other = participant_token_issue(participant=Participant.objects.get(bic="DEMARUMM"))
    call_command("revoke_token", "DEMBZAJJ", "--all")
    assert [accepted(client, key) for key in keys] == [False, False, False]
    assert accepted(client, other)


def test_revoke_token_finds_the_participant_by_its_bic_with_the_primary_offices_xxx(keys, client):
    call_command("revoke_token", "DEMBZAJJXXX", "--all")
    assert [accepted(client, key) for key in keys] == [False, False, False]


def test_revoke_token_needs_a_known_participant_and_a_prefix_or_all(keys):
    with pytest.raises(CommandError, match="no participant"):
        call_command("revoke_token", "NOPEZAJJ", "--all")
    with pytest.raises(CommandError, match="12 characters"):
        call_command("revoke_token", "DEMBZAJJ", "--prefix", "hub_")
    with pytest.raises(CommandError):
        call_command("revoke_token", "DEMBZAJJ")
