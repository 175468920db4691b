"""The admin never shows a participant's webhook secret, which signs what the hub sends it: whoever reads
it can forge the hub's webhooks to that participant. Positions are shown, never written. An active link's
accounts are neither deleted nor moved here, and the page says why."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command

from hub.registry.models import AccountKind, CSDLink, Holding, Participant, SecuritiesAccount
from hub.registry.services import csd_link_activate

from .factories import account, two_linked_csds

SECRET = "s3cret-of-the-webhook-0123456789"


@pytest.fixture
def participant(db) -> Participant:
    call_command("seed_demo", verbosity=0)
    participant = Participant.objects.get(bic="DEMARUMM")
    Participant.objects.filter(pk=participant.pk).update(
        webhook_url="https://example.test/h", webhook_secret=SECRET
    )
    participant.refresh_from_db()
    return participant


def change_url(participant: Participant) -> str:
    return f"/admin/registry/participant/{participant.pk}/change/"


def test_the_webhook_secret_is_shown_neither_to_an_administrator_nor_to_a_viewer(participant, client):
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    page = client.get(change_url(participant))
    assert page.status_code == 200 and SECRET not in page.content.decode()
    viewer = get_user_model().objects.create_user("vera", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_participant"))
    client.force_login(viewer)
    page = client.get(change_url(participant))
    assert page.status_code == 200 and "DEMARUMM" in page.content.decode()
    assert SECRET not in page.content.decode()


def test_saving_a_participant_with_the_secret_left_blank_keeps_it_and_a_new_one_replaces_it(
    participant, client
):
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    form = {
        "bic": participant.bic,
        "lei": participant.lei,
        "name": "Renamed",
        "home_csd": participant.home_csd_id,
        "outbound_format": participant.outbound_format,
        "webhook_url": participant.webhook_url,
        "webhook_secret": "",
    }
    assert client.post(change_url(participant), form).status_code == 302
    participant.refresh_from_db()
    assert (participant.name, participant.webhook_secret) == ("Renamed", SECRET)
    assert (
        client.post(change_url(participant), form | {"webhook_secret": "another-secret-0123"}).status_code
        == 302
    )
    participant.refresh_from_db()
    assert participant.webhook_secret == "another-secret-0123"
    too_short = client.post(change_url(participant), form | {"webhook_secret": "short"})
    assert too_short.status_code == 200  # the form again, with the model's rule
    participant.refresh_from_db()
    assert participant.webhook_secret == "another-secret-0123"


def test_positions_are_shown_in_the_admin_but_cannot_be_added_changed_or_deleted(participant, client):
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    holding = Holding.objects.filter(account__participant=participant).first()
    before = holding.quantity
    page = client.get(f"/admin/registry/holding/{holding.pk}/change/")
    assert page.status_code == 200 and str(holding.account.number) in page.content.decode()
    edited = client.post(
        f"/admin/registry/holding/{holding.pk}/change/",
        {
            "account": holding.account_id,
            "security": holding.security_id,
            "quantity": "1",
            "as_of": "2026-01-02",
        },
    )
    assert edited.status_code == 403
    assert client.get("/admin/registry/holding/add/").status_code == 403
    assert client.post(f"/admin/registry/holding/{holding.pk}/delete/", {"post": "yes"}).status_code == 403
    holding.refresh_from_db()
    assert holding.quantity == before


def test_an_active_links_account_is_not_deleted_or_moved_in_the_admin_and_says_why(db, client):
    nsd, strate, link = two_linked_csds()
    omnibus = account(nsd, "OMNIBUS-STRATE", AccountKind.OMNIBUS, link=link)  # no positions yet
    account(strate, "MIRROR-NSD", AccountKind.MIRROR, link=link)
    csd_link_activate(link=link)
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    url = f"/admin/registry/securitiesaccount/{omnibus.pk}/delete/"
    page = client.get(url)
    assert page.status_code == 200 and "deactivate the link first" in page.content.decode()
    assert client.post(url, {"post": "yes"}).status_code == 200
    action = {"action": "delete_selected", "_selected_action": [omnibus.pk], "post": "yes"}
    page = client.post("/admin/registry/securitiesaccount/", action)
    assert page.status_code == 200 and "deactivate the link first" in page.content.decode()
    assert SecuritiesAccount.objects.filter(pk=omnibus.pk).exists()
    form = {"csd": nsd.pk, "number": "MOVED", "kind": AccountKind.OMNIBUS, "participant": "", "link": link.pk}
    page = client.post(f"/admin/registry/securitiesaccount/{omnibus.pk}/change/", form)
    assert page.status_code == 200 and "while the link is active" in page.content.decode()
    assert SecuritiesAccount.objects.get(pk=omnibus.pk).number == "OMNIBUS-STRATE"
    CSDLink.objects.filter(pk=link.pk).update(is_active=False)
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not SecuritiesAccount.objects.filter(pk=omnibus.pk).exists()
