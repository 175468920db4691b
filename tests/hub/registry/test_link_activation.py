"""A CSD link is active only with its omnibus account at the issuer CSD and its mirror account at the
investor CSD: model validation says so, and the database refuses an activation written around it (an
update, a bulk_create, raw SQL). On PostgreSQL the check runs at commit, so a link may be written active
and given its accounts in one transaction; SQLite checks at once, so there a link is activated after."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from hub.registry.models import AccountKind, CSDLink, SecuritiesAccount
from hub.registry.services import csd_link_activate

from .factories import account, saved_csd, two_linked_csds

ROOT = Path(__file__).resolve().parents[3]
ACTIVATION_TRIGGERS = "registry_csdlink_active_rules_insert, registry_csdlink_active_rules_update"


def refused_by_database(write) -> str:
    """What the database says to ``write``, at once on SQLite and, on PostgreSQL, where its commit would:
    the test runs inside a transaction that never commits, so the deferred check is asked for here."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        write()
        checked_now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET CONSTRAINTS {ACTIVATION_TRIGGERS} DEFERRED")
    return str(caught.value)


def checked_now() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET CONSTRAINTS {ACTIVATION_TRIGGERS} IMMEDIATE")
            cursor.execute(f"SET CONSTRAINTS {ACTIVATION_TRIGGERS} DEFERRED")


def kacd():
    return saved_csd("KACD", bic="KACDKZKA", country="KZ", timezone="Asia/Almaty", calendar="KZ")


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.mark.django_db
def test_an_update_or_raw_sql_cannot_activate_a_link_without_both_its_accounts():
    nsd, strate, link = two_linked_csds()
    activate = {
        "update": lambda: CSDLink.objects.filter(pk=link.pk).update(is_active=True),
        "raw SQL": lambda: sql("UPDATE registry_csdlink SET is_active = %s WHERE id = %s", [True, link.pk]),
    }
    for write in activate.values():
        refusal = refused_by_database(write)
        assert "omnibus account" in refusal and "save the link inactive" in refusal
    if connection.vendor == "postgresql":  # SQLite's RAISE takes a fixed message: it cannot name the link
        assert (
            "CSD link 'STRATE holds through NSD' is active without its omnibus account at NSD and mirror account "
            "at STRATE: save the link inactive"
        ) in refused_by_database(activate["update"])
    account(nsd, "OMNIBUS-STRATE", AccountKind.OMNIBUS, link=link)
    for write in activate.values():
        assert "mirror account" in refused_by_database(write)
    assert not CSDLink.objects.get(pk=link.pk).is_active
    account(strate, "MIRROR-NSD", AccountKind.MIRROR, link=link)
    activate["raw SQL"]()
    checked_now()
    assert CSDLink.objects.get(pk=link.pk).is_active


@pytest.mark.django_db
def test_a_link_created_active_by_bulk_create_or_raw_sql_without_accounts_is_refused():
    nsd, strate, _link = two_linked_csds()
    other = kacd()
    refusal = refused_by_database(
        lambda: CSDLink.objects.bulk_create([CSDLink(issuer_csd=nsd, investor_csd=other, is_active=True)])
    )
    assert "omnibus account" in refusal
    refused_by_database(
        lambda: sql(
            "INSERT INTO registry_csdlink (issuer_csd_id, investor_csd_id, is_active) VALUES (%s, %s, %s)",
            [other.pk, strate.pk, True],
        )
    )
    assert not CSDLink.objects.filter(investor_csd=other).exists()
    assert not CSDLink.objects.filter(issuer_csd=other).exists()
    # inactive, it is only a link being set up
    CSDLink.objects.bulk_create([CSDLink(issuer_csd=nsd, investor_csd=other, is_active=False)])
    checked_now()


@pytest.mark.django_db
def test_on_postgresql_a_link_may_be_created_active_and_given_its_accounts_in_the_same_transaction():
    nsd, strate, _link = two_linked_csds()
    other = kacd()

    def create_with_accounts():
        link = CSDLink.objects.create(issuer_csd=nsd, investor_csd=other, is_active=True)
        account(nsd, "OMNIBUS-KACD", AccountKind.OMNIBUS, link=link)
        account(other, "MIRROR-NSD", AccountKind.MIRROR, link=link)
        checked_now()

    if connection.vendor == "postgresql":
        with transaction.atomic():
            create_with_accounts()
        assert CSDLink.objects.get(investor_csd=other).is_active
        # and one activated without them, then deactivated before the commit, was never active at a commit
        with transaction.atomic():
            CSDLink.objects.filter(investor_csd=strate).update(is_active=True)
            CSDLink.objects.filter(investor_csd=strate).update(is_active=False)
            checked_now()
    else:  # no deferred triggers: the link is inserted inactive and activated once it has its accounts
        assert "omnibus account" in refused_by_database(create_with_accounts)


@pytest.mark.django_db(transaction=True)
def test_an_activation_without_accounts_is_refused_when_it_commits():
    _nsd, _strate, link = two_linked_csds()
    with pytest.raises(IntegrityError, match="omnibus account"):
        CSDLink.objects.filter(pk=link.pk).update(is_active=True)  # autocommit: the statement commits
    with pytest.raises(IntegrityError, match="omnibus account"), transaction.atomic():
        CSDLink.objects.filter(pk=link.pk).update(is_active=True)
    assert not CSDLink.objects.get(pk=link.pk).is_active


class CompetingDeletion:
    """Deletes the link's omnibus account from another connection while the link is being activated, after
    its validation and before its commit (where ``CSDLink.save`` is called): the deletion is given a second,
    then the activation goes on. ``refusal`` is what the database said to the deletion (None: it deleted)."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.refusal: str | None = None

    def delete_omnibus(self, link_id: int) -> None:
        try:
            SecuritiesAccount.objects.filter(link_id=link_id, kind=AccountKind.OMNIBUS).delete()
        except IntegrityError as refusal:
            self.refusal = str(refusal)
        finally:
            connection.close()

    def start(self, link_id: int) -> None:
        self.thread = threading.Thread(target=self.delete_omnibus, args=[link_id])
        self.thread.start()
        self.thread.join(timeout=1)

    def waited_and_was_refused(self) -> bool:
        assert self.thread is not None, "the activation never saved the link"
        self.thread.join(timeout=60)
        return self.refusal is not None and "active CSD link" in self.refusal


@pytest.fixture
def deletion_during_activation(monkeypatch):
    deletion = CompetingDeletion()
    save = CSDLink.save

    def save_after_a_competing_deletion(link, *args, **kwargs):
        if link.is_active:
            monkeypatch.setattr(CSDLink, "save", save)
            deletion.start(link.pk)
        return save(link, *args, **kwargs)

    monkeypatch.setattr(CSDLink, "save", save_after_a_competing_deletion)
    yield deletion
    if deletion.thread is not None:
        deletion.thread.join(timeout=60)
    # SQLite empties the tables with DELETE after the test, which migration 0009 refuses an active link's accounts
    CSDLink.objects.update(is_active=False)


def a_link_ready_to_activate() -> CSDLink:
    nsd, strate, link = two_linked_csds()
    account(nsd, "OMNIBUS-STRATE", AccountKind.OMNIBUS, link=link)
    account(strate, "MIRROR-NSD", AccountKind.MIRROR, link=link)
    return link


@pytest.mark.django_db(transaction=True)
def test_an_account_deleted_while_the_service_activates_its_link_waits_and_is_refused(
    deletion_during_activation,
):
    link = a_link_ready_to_activate()
    csd_link_activate(link=link)  # no server error: the deletion waited for the activation to commit
    assert CSDLink.objects.get(pk=link.pk).is_active
    assert deletion_during_activation.waited_and_was_refused()
    assert SecuritiesAccount.objects.filter(link=link).count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_account_deleted_while_the_admin_activates_its_link_waits_and_is_refused(
    deletion_during_activation, client
):
    link = a_link_ready_to_activate()
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    form = {"issuer_csd": link.issuer_csd_id, "investor_csd": link.investor_csd_id, "is_active": "on"}
    page = client.post(f"/admin/registry/csdlink/{link.pk}/change/", form)
    assert page.status_code == 302
    assert CSDLink.objects.get(pk=link.pk).is_active
    assert deletion_during_activation.waited_and_was_refused()
    assert SecuritiesAccount.objects.filter(link=link).count() == 2


@pytest.mark.django_db
def test_the_admin_says_why_a_link_without_its_accounts_cannot_be_active(client):
    nsd, strate, link = two_linked_csds()
    account(nsd, "OMNIBUS-STRATE", AccountKind.OMNIBUS, link=link)
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    form = {"issuer_csd": nsd.pk, "investor_csd": strate.pk, "is_active": "on"}
    page = client.post(f"/admin/registry/csdlink/{link.pk}/change/", form)
    assert page.status_code == 200 and "needs its mirror account at STRATE" in page.content.decode()
    assert not CSDLink.objects.get(pk=link.pk).is_active
    other = kacd()
    page = client.post(
        "/admin/registry/csdlink/add/", {"issuer_csd": nsd.pk, "investor_csd": other.pk, "is_active": "on"}
    )
    assert (
        page.status_code == 200
        and "omnibus account at NSD and mirror account at KACD" in page.content.decode()
    )
    form = {"issuer_csd": nsd.pk, "investor_csd": other.pk}  # inactive: saved, to be given its accounts
    assert client.post("/admin/registry/csdlink/add/", form).status_code == 302


@pytest.mark.django_db
def test_the_admin_offers_a_new_link_inactive(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    page = client.get("/admin/registry/csdlink/add/")
    assert page.status_code == 200
    field = page.context["adminform"].form["is_active"]
    assert field.value() is False and "checked" not in str(field)


# --- The migration that adds the check, over links written before it -------------------------------------


def active_link_without_accounts_stops_the_migration() -> None:
    """Takes the registry back to 0010, writes an active link with only its mirror account, as an update could
    then, and migrates forward: the migration names the link and what it lacks, and migrates once the link is
    deactivated."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor = MigrationExecutor(connection)
    executor.migrate([("registry", "0010_isin_known_prefixes")])
    nsd, strate, link = two_linked_csds()
    account(strate, "MIRROR-NSD", AccountKind.MIRROR, link=link)
    CSDLink.objects.filter(pk=link.pk).update(is_active=True)
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(executor.loader.graph.leaf_nodes())
    except IntegrityError as refusal:
        assert "'STRATE holds through NSD' lacks its omnibus account at NSD. Add the accounts" in str(refusal)
    else:
        raise AssertionError("the migration went through over an active link without its omnibus account")
    CSDLink.objects.filter(pk=link.pk).update(is_active=False)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert "omnibus account" in refused_by_database(
        lambda: CSDLink.objects.filter(pk=link.pk).update(is_active=True)
    )


@pytest.mark.django_db
def test_the_migration_stops_on_an_active_link_written_without_its_accounts_before_it(tmp_path):
    if connection.vendor == "sqlite":  # it cannot migrate inside the test's transaction
        migration_scenario_on_sqlite(tmp_path)
    else:
        active_link_without_accounts_stops_the_migration()


def test_the_migration_stops_on_such_a_link_on_the_embedded_sqlite_default_too(tmp_path):
    migration_scenario_on_sqlite(tmp_path)


def migration_scenario_on_sqlite(tmp_path: Path) -> None:
    """``active_link_without_accounts_stops_the_migration`` in a child process on a fresh SQLite database, as
    ``make run`` has it (no DATABASE_URL)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {"DEBUG": "true", "HUB_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "hub.settings"}
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "from django.db import connection\n"
        "assert connection.vendor == 'sqlite'\n"
        "from tests.hub.registry import test_link_activation as t\n"
        "t.active_link_without_accounts_stops_the_migration()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
