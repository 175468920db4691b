"""A CSD's keys have a history: ``csd_key_change`` retires the key in force and keeps it, the admin goes
through it, and the database refuses a history edited or a key set around it."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from hub.ledger import selectors, services
from hub.ledger.keys import Signer, csd_signer
from hub.ledger.models import Endorsement
from hub.registry.models import CSD, CSDKey
from hub.registry.services import csd_key_change

from .factories import saved_csd, two_linked_csds

pytestmark = pytest.mark.django_db


def refused(attempt) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        attempt()


def test_a_new_key_retires_the_one_in_force_which_is_kept_with_when_it_was_in_force():
    nsd = saved_csd("NSD")
    first, second = Signer.generate(), Signer.generate()
    csd_key_change(csd=nsd, public_key=first.public_key, cause="onboarding")
    record = csd_key_change(csd=nsd, public_key=second.public_key, cause="  yearly   rotation ")
    old, new = CSDKey.objects.filter(csd=nsd).order_by("in_force_from")
    assert (old.key_id, new.key_id) == (first.key_id, second.key_id) and record == new
    assert old.retired_at == new.in_force_from and new.retired_at is None
    assert (old.cause, new.cause) == ("onboarding", "yearly rotation")
    assert CSD.objects.get(pk=nsd.pk).signing_public_key == second.public_key == nsd.signing_public_key
    assert csd_key_change(csd=nsd, public_key=second.public_key, cause="export again") == new
    assert CSDKey.objects.filter(csd=nsd).count() == 2


@pytest.mark.parametrize(
    ("public_key", "cause", "problem"),
    [
        ("not base64!", "x", "32 bytes in standard base64"),
        ("AAAA", "x", "32 bytes, this one is 3"),
        (Signer.generate().public_key, "  ", "say who changes the key"),
    ],
)
def test_a_key_that_is_no_key_or_a_change_nobody_accounts_for_is_refused(public_key, cause, problem):
    nsd = saved_csd("NSD")
    with pytest.raises(ValidationError, match=problem):
        csd_key_change(csd=nsd, public_key=public_key, cause=cause)
    assert not CSDKey.objects.exists() and CSD.objects.get(pk=nsd.pk).signing_public_key == ""


def test_a_retired_key_is_never_put_back_in_force():
    nsd = saved_csd("NSD")
    first, second = Signer.generate(), Signer.generate()
    csd_key_change(csd=nsd, public_key=first.public_key, cause="onboarding")
    csd_key_change(csd=nsd, public_key=second.public_key, cause="key exposed")
    with pytest.raises(ValidationError, match=f"NSD had key {first.key_id} before and retired it"):
        csd_key_change(csd=nsd, public_key=first.public_key, cause="rollback")
    assert CSD.objects.get(pk=nsd.pk).signing_public_key == second.public_key


def test_the_database_refuses_a_history_edited_and_a_key_set_around_it():
    nsd = saved_csd("NSD")
    first, second, stranger = Signer.generate(), Signer.generate(), Signer.generate()
    csd_key_change(csd=nsd, public_key=first.public_key, cause="onboarding")
    csd_key_change(csd=nsd, public_key=second.public_key, cause="rotation")
    old = CSDKey.objects.get(key_id=first.key_id)
    current = CSDKey.objects.get(key_id=second.key_id)
    keys = CSDKey.objects.filter
    for attempt in (
        lambda: keys(pk=old.pk).delete(),
        lambda: keys(pk=old.pk).update(public_key=stranger.public_key),
        lambda: keys(pk=old.pk).update(retired_at=None),  # back in force
        lambda: keys(pk=old.pk).update(retired_at=timezone.now()),  # retired a second time
        lambda: keys(pk=current.pk).update(in_force_from=old.in_force_from),
        lambda: CSD.objects.filter(pk=nsd.pk).update(signing_public_key=stranger.public_key),
        lambda: CSD.objects.filter(pk=nsd.pk).update(signing_public_key=first.public_key),  # retired
        lambda: CSD.objects.filter(pk=nsd.pk).update(signing_public_key=""),
        lambda: saved_csd("STRATE", bic="STRAZAJJ", signing_public_key=stranger.public_key),
        lambda: CSDKey.objects.create(  # a second key in force
            csd=nsd, key_id=stranger.key_id, public_key=stranger.public_key, in_force_from=timezone.now()
        ),
    ):
        refused(attempt)
    keys(pk=current.pk).update(retired_at=timezone.now())  # the one change a key takes: its retirement
    assert keys(csd=nsd, retired_at__isnull=True).count() == 0


def admin_form(csd: CSD) -> dict:
    """The CSD's change form as the admin page posts it, its key history inline included."""
    form = {
        "code": csd.code,
        "name": "Renamed depository",
        "country": csd.country,
        "bic": csd.bic,
        "timezone": csd.timezone,
        "calendar": csd.calendar,
        "settlement_cutoff": "18:00",
        "message_standard": csd.message_standard,
        "adapter": csd.adapter,
        "adapter_config": "{}",
        "status": "ACTIVE",
        "keys-TOTAL_FORMS": "0",
        "keys-INITIAL_FORMS": "0",
        "keys-MIN_NUM_FORMS": "0",
        "keys-MAX_NUM_FORMS": "1000",
    }
    for n, pk in enumerate(CSDKey.objects.filter(csd=csd).values_list("pk", flat=True)):
        form |= {f"keys-{n}-id": pk, f"keys-{n}-csd": csd.pk}
        form["keys-TOTAL_FORMS"] = form["keys-INITIAL_FORMS"] = str(n + 1)
    return form


def test_the_admin_shows_the_key_in_force_and_changes_it_only_through_the_history(client):
    nsd = saved_csd("NSD")
    first, second, stranger = Signer.generate(), Signer.generate(), Signer.generate()
    csd_key_change(csd=nsd, public_key=first.public_key, cause="onboarding")
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    url = f"/admin/registry/csd/{nsd.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and first.key_id in page.content.decode()
    # the key in force is shown, not a field: typing over it posts nothing the form reads
    form = admin_form(nsd)
    assert client.post(url, form | {"signing_public_key": stranger.public_key}).status_code == 302
    assert CSD.objects.get(pk=nsd.pk).signing_public_key == first.public_key
    assert client.post(url, form | {"new_signing_public_key": second.public_key}).status_code == 302
    assert CSD.objects.get(pk=nsd.pk).signing_public_key == second.public_key
    assert list(CSDKey.objects.filter(csd=nsd).values_list("key_id", "cause")) == [
        (first.key_id, "onboarding"),
        (second.key_id, "admin, by root"),
    ]
    assert client.get(f"/admin/registry/csdkey/{CSDKey.objects.first().pk}/delete/").status_code == 403


@pytest.mark.parametrize(
    ("retired", "problem"), [(False, "32 bytes, this one is 3"), (True, "never put back")]
)
def test_the_admin_refuses_a_key_the_service_refuses_with_the_reason_on_the_form(client, retired, problem):
    nsd = saved_csd("NSD")
    first, second = Signer.generate(), Signer.generate()
    csd_key_change(csd=nsd, public_key=first.public_key, cause="onboarding")
    csd_key_change(csd=nsd, public_key=second.public_key, cause="rotation")
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    form = admin_form(nsd) | {"new_signing_public_key": first.public_key if retired else "AAAA"}
    page = client.post(f"/admin/registry/csd/{nsd.pk}/change/", form)
    assert page.status_code == 200 and problem in page.content.decode()
    assert CSD.objects.get(pk=nsd.pk).signing_public_key == second.public_key
    assert CSDKey.objects.filter(csd=nsd).count() == 2


def migrate_registry(name: str | None) -> None:
    """The registry app at migration ``name`` (None: every app at its latest)."""
    if connection.vendor == "postgresql":  # rows written in the test's transaction are checked before
        with connection.cursor() as cursor:  # a table is altered
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    targets = executor.loader.graph.leaf_nodes() if name is None else [("registry", name)]
    executor.migrate(targets)


def test_the_key_each_csd_had_before_the_history_is_recorded_in_force_since_its_first_endorsement():
    nsd, _strate, _link = two_linked_csds()
    idle = saved_csd("CSCS", bic="CSCSNGLA", country="NG", timezone="Africa/Lagos", calendar="NG")
    services.entry_append(kind="COMMIT", reference="T-OLD", csds=["NSD", "STRATE"], record={"q": "1"})
    [block] = services.blocks_seal_pending()
    services.block_endorse(block=block)  # with NSD's local key, which the registry is then given
    endorsed = Endorsement.objects.get(block=block, csd="NSD")
    nsd_key, idle_key = csd_signer("NSD").public_key, Signer.generate().public_key
    migrate_registry("0011_link_active_rules")
    with connection.cursor() as cursor:  # the field as it was written before the history existed
        cursor.execute("UPDATE registry_csd SET signing_public_key = %s WHERE id = %s", [nsd_key, nsd.pk])
        cursor.execute("UPDATE registry_csd SET signing_public_key = %s WHERE id = %s", [idle_key, idle.pk])
    before = timezone.now()
    migrate_registry(None)
    recorded = CSDKey.objects.get(csd=nsd)
    assert (recorded.key_id, recorded.public_key) == (endorsed.key_id, nsd_key)
    assert recorded.in_force_from == endorsed.endorsed_at and recorded.retired_at is None
    assert "migration registry 0012" in recorded.cause
    # a key that endorsed nothing yet is in force from the migration on
    assert before <= CSDKey.objects.get(csd=idle).in_force_from <= timezone.now()
    assert not CSDKey.objects.filter(csd__code="STRATE").exists()  # it had no key in the registry
    assert selectors.chain_verify().first_break is None
    with pytest.raises(IntegrityError), transaction.atomic():  # and the triggers are in place
        CSDKey.objects.filter(csd=nsd).delete()
