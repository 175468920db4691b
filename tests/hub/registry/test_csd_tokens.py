"""Operations issue and revoke a CSD's keys of the CSD ledger API; the admin lists them and writes none."""

import pytest
from django.core.management import CommandError, call_command

from hub.registry.models import CSDToken
from hub.registry.selectors import csd_for_token, participant_for_token
from hub.registry.services import csd_token_issue

from .factories import participant, saved_csd

pytestmark = pytest.mark.django_db


def issued(capsys, *args) -> str:
    call_command("issue_csd_token", *args)
    return capsys.readouterr().out.strip()


def test_issue_csd_token_prints_a_csd_key_once_and_stores_only_its_hash(capsys):
    nsd = saved_csd("NSD")
    participant(nsd)
    key = issued(capsys, "nsd", "--label", "NSD's ledger checker")
    assert key.startswith("csd_") and csd_for_token(key) == nsd
    assert participant_for_token(key) is None  # no participant's key
    token = CSDToken.objects.get()
    assert (token.key_prefix, token.label) == (key[:12], "NSD's ledger checker")
    assert key not in (token.key_hash, token.key_prefix)
    with pytest.raises(CommandError, match="no CSD with code NOPE"):
        call_command("issue_csd_token", "NOPE")


def test_revoke_csd_token_cuts_off_the_one_key_named_or_every_key_of_the_csd_and_no_one_elses(capsys):
    nsd, strate = saved_csd("NSD"), saved_csd("STRATE", bic="STRAZAJJ")
    keys = [csd_token_issue(csd=nsd, label=str(n)) for n in range(3)]
    other = csd_token_issue(csd=strate)
    call_command("revoke_csd_token", "NSD", "--prefix", keys[0])
    assert capsys.readouterr().out == f"revoked NSD {keys[0][:12]}…\n"
    assert [csd_for_token(key) for key in keys] == [None, nsd, nsd]
    with pytest.raises(CommandError, match="no live key"):
        call_command("revoke_csd_token", "NSD", "--prefix", keys[0])
    call_command("revoke_csd_token", "nsd", "--all")
    assert [csd_for_token(key) for key in keys] == [None, None, None]
    assert csd_for_token(other) == strate
    with pytest.raises(CommandError, match="no live key"):
        call_command("revoke_csd_token", "NSD", "--all")


def test_revoke_csd_token_needs_a_known_csd_and_a_prefix_of_twelve_characters_or_all():
    saved_csd("NSD")
    with pytest.raises(CommandError, match="no CSD with code NOPE"):
        call_command("revoke_csd_token", "NOPE", "--all")
    with pytest.raises(CommandError, match="12 characters"):
        call_command("revoke_csd_token", "NSD", "--prefix", "csd_")
    with pytest.raises(CommandError):
        call_command("revoke_csd_token", "NSD")


def test_the_admin_lists_the_csds_keys_and_neither_adds_nor_changes_nor_deletes_one(admin_client):
    csd_token_issue(csd=saved_csd("NSD"), label="ledger checker")
    token = CSDToken.objects.get()
    listing = admin_client.get("/admin/registry/csdtoken/")
    assert listing.status_code == 200 and token.key_prefix in listing.content.decode()
    assert admin_client.get("/admin/registry/csdtoken/add/").status_code == 403
    page = admin_client.get(f"/admin/registry/csdtoken/{token.pk}/change/")
    assert page.status_code == 200 and b'name="label"' not in page.content
    assert (
        admin_client.post(f"/admin/registry/csdtoken/{token.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert CSDToken.objects.filter(pk=token.pk, label="ledger checker").exists()
