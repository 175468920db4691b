"""The operators' REST endpoints: staff sessions only; runs requested and listed; breaks filtered,
acknowledged and resolved through the same services as everywhere else."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from hub.reconciliation.models import Break, Run

from ..openapi import assert_answers_as_declared
from .conftest import LATER_THAT_DAY, SHARES, units


def staff_client(username: str, *permissions: str) -> APIClient:
    user = get_user_model().objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.get(content_type__app_label="reconciliation", codename=codename)
        for codename in permissions
    )
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def operator(db):
    return staff_client("alice", "add_run", "change_break")


@pytest.fixture
def viewer(db):
    """Staff with no permission on reconciliation: may read, as in the admin, but not act."""
    return staff_client("victor")


def test_runs_are_filtered_by_csd_and_status_and_bad_filters_get_a_400(operator):
    assert operator.get("/api/v1/reconciliation/runs/?csd=NSD&status=QUEUED").json() == []
    for query in ("csd=%00", "status=%00", "status=NOPE"):
        response = operator.get(f"/api/v1/reconciliation/runs/?{query}")
        assert response.status_code == 400 and query.split("=")[0] in response.json(), query


@pytest.fixture
def with_a_break(world):
    world.sql(
        "NSD",
        "INSERT INTO refcsd_postings (reference, kind, isin, debit_account, credit_account, quantity,"
        " from_blocked, settlement_date, booked_at) VALUES ('UNDUE-1', 'ISSUE', :isin, 'ISSUANCE',"
        " 'DEMBRUMM-OWN', :q, false, '2026-11-26', '2026-11-26')",
        isin=SHARES,
        q=units(500),
    )
    world.reconcile()
    return Break.objects.get()


def test_anonymous_callers_and_users_who_are_not_staff_are_refused(db):
    assert APIClient().get("/api/v1/reconciliation/breaks/").status_code == 403
    user = get_user_model().objects.create_user("bob", password="x")
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/v1/reconciliation/runs/").status_code == 403


def test_an_operator_requests_a_run_which_is_queued_for_a_worker(
    operator, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        reply = operator.post("/api/v1/reconciliation/runs/", {"csd": "NSD"}, format="json")
    assert reply.status_code == 202
    run = Run.objects.get(pk=reply.json()["id"])
    assert (run.status, run.csd.code, run.requested_by) == ("QUEUED", "NSD", "alice") and len(callbacks) == 1
    assert operator.post("/api/v1/reconciliation/runs/", {"csd": "NOPE"}, format="json").status_code == 404
    listed = operator.get("/api/v1/reconciliation/runs/?status=DONE").json()
    assert [r["kind"] for r in listed] == ["EOD"]  # the closing run of the fixture


def test_an_operator_lists_acknowledges_and_resolves_a_break_and_reads_its_trail(operator, with_a_break):
    live = operator.get("/api/v1/reconciliation/breaks/?status=LIVE&kind=ISSUED").json()
    assert [(b["kind"], b["csd"], b["isin"], b["difference"]) for b in live] == [
        ("ISSUED", "NSD", SHARES, "500.000000")
    ]
    assert operator.get("/api/v1/reconciliation/breaks/?kind=NOPE").status_code == 400
    url = f"/api/v1/reconciliation/breaks/{with_a_break.pk}/"
    assert operator.post(url + "acknowledge/", {"note": "on it"}, format="json").json()["status"] == "ACK"
    refused = operator.post(url + "resolve/", {}, format="json")
    assert refused.status_code == 400 and refused.json()["error"] == "NoteRequired"
    assert operator.post(url + "resolve/", {"note": "reversed"}, format="json").json()["status"] == "RESOLVED"
    assert operator.post(url + "acknowledge/", {}, format="json").status_code == 409
    trail = operator.get(url).json()["events"]
    assert [(e["to_status"], e["actor"]) for e in trail] == [
        ("OPEN", "system"),
        ("ACK", "alice"),
        ("RESOLVED", "alice"),
    ]


def test_suspended_isins_are_listed_with_their_csds_and_breaks(operator, with_a_break):
    Break.objects.filter(pk=with_a_break.pk).update(suspends_at="2026-01-01T00:00:00Z")
    assert operator.get("/api/v1/reconciliation/suspensions/").json() == [
        {"isin": SHARES, "csds": ["KACD", "MCDR", "NSD", "STRATE"], "breaks": [with_a_break.pk]}
    ]


def test_the_openapi_schema_documents_the_reconciliation_endpoints(operator):
    schema = operator.get("/api/schema/").content.decode()
    for operation in (
        "reconciliation_runs_request",
        "reconciliation_breaks_list",
        "reconciliation_breaks_resolve",
    ):
        assert operation in schema


def test_the_breaks_of_a_run_are_every_break_it_found_even_those_found_again_later(
    operator, world, with_a_break
):
    again = world.reconcile(now=LATER_THAT_DAY + dt.timedelta(minutes=15))
    assert again.breaks_seen == 1
    for run in (with_a_break.first_seen_run_id, again.pk):
        listed = operator.get(f"/api/v1/reconciliation/breaks/?run={run}").json()
        assert [b["id"] for b in listed] == [with_a_break.pk], run
    closing = Run.objects.get(kind="EOD")  # the fixture's closing run found nothing
    assert operator.get(f"/api/v1/reconciliation/breaks/?run={closing.pk}").json() == []


def ghost_movement_at_strate(world):
    """A break of Strate's statements: found by the runs of Strate and of every CSD, not by NSD's."""
    world.sql(
        "STRATE",
        "INSERT INTO refcsd_postings (reference, kind, isin, debit_account, credit_account, quantity,"
        " from_blocked, settlement_date, booked_at) VALUES ('GHOST-1', 'DELIVERY', :isin, 'MIRROR-NSD',"
        " 'ISSUANCE', :q, false, '2026-11-26', '2026-11-26')",
        isin=SHARES,
        q=units(7),
    )


def test_a_break_seen_run_after_run_is_stored_once_per_stretch_of_runs_and_each_run_still_lists_it(
    operator, world
):
    from hub.reconciliation.models import Sighting

    ghost_movement_at_strate(world)
    every = [world.reconcile(now=LATER_THAT_DAY + dt.timedelta(minutes=m)) for m in (0, 15, 30, 45)]
    nsd = world.reconcile(csd="NSD", now=LATER_THAT_DAY + dt.timedelta(minutes=50))  # between, not finding it
    last = world.reconcile(now=LATER_THAT_DAY + dt.timedelta(minutes=60))
    brk = Break.objects.get()
    # one row for the stretch of runs of every CSD, however long, not one per run
    assert list(Sighting.objects.values_list("brk", "first_run", "last_run")) == [
        (brk.pk, every[0].pk, last.pk)
    ]
    for run in [*every, last]:
        assert [b["id"] for b in operator.get(f"/api/v1/reconciliation/breaks/?run={run.pk}").json()] == [
            brk.pk
        ]
    assert operator.get(f"/api/v1/reconciliation/breaks/?run={nsd.pk}").json() == []


def test_a_run_between_two_that_found_a_break_and_failed_is_not_said_to_have_found_it(operator, world):
    from csd_adapters import base as csd_base
    from csd_adapters.inprocess import LedgerAdapter

    class Down(LedgerAdapter):
        def holdings(self, *, account, as_of):
            raise csd_base.CsdUnavailable("connection refused")

    ghost_movement_at_strate(world)
    before = world.reconcile()
    world.adapters["NSD"], up = Down(ledger=world.ledgers["NSD"], csd="NSD"), world.adapters["NSD"]
    with pytest.raises(csd_base.CsdUnavailable):
        world.reconcile(now=LATER_THAT_DAY + dt.timedelta(minutes=15))
    failed = Run.objects.get(status="FAILED")
    world.adapters["NSD"] = up
    after = world.reconcile(now=LATER_THAT_DAY + dt.timedelta(minutes=30))
    brk = Break.objects.get()
    for run, listed in ((before, [brk.pk]), (failed, []), (after, [brk.pk])):
        assert [
            b["id"] for b in operator.get(f"/api/v1/reconciliation/breaks/?run={run.pk}").json()
        ] == listed


def test_runs_and_breaks_without_a_csd_and_refusals_read_as_the_openapi_schema_declares(
    operator, with_a_break
):
    every_csd = operator.post("/api/v1/reconciliation/runs/", {}, format="json")
    assert every_csd.json()["csd"] is None
    assert_answers_as_declared(every_csd, path="/api/v1/reconciliation/runs/", method="post")
    run = f"/api/v1/reconciliation/runs/{every_csd.json()['id']}/"
    assert_answers_as_declared(operator.get(run), path="/api/v1/reconciliation/runs/{id}/")
    assert_answers_as_declared(
        operator.get("/api/v1/reconciliation/runs/"), path="/api/v1/reconciliation/runs/"
    )
    Break.objects.filter(pk=with_a_break.pk).update(csd=None)  # as a ledger break (LG_*) has none
    for answer, path in (
        (operator.get("/api/v1/reconciliation/breaks/"), "/api/v1/reconciliation/breaks/"),
        (
            operator.get(f"/api/v1/reconciliation/breaks/{with_a_break.pk}/"),
            "/api/v1/reconciliation/breaks/{id}/",
        ),
        (operator.get("/api/v1/reconciliation/breaks/?kind=NOPE"), "/api/v1/reconciliation/breaks/"),
        (operator.get("/api/v1/reconciliation/breaks/0/"), "/api/v1/reconciliation/breaks/{id}/"),
        (APIClient().get("/api/v1/reconciliation/breaks/"), "/api/v1/reconciliation/breaks/"),
    ):
        assert_answers_as_declared(answer, path=path)
    resolve = "/api/v1/reconciliation/breaks/{id}/resolve/"
    url = f"/api/v1/reconciliation/breaks/{with_a_break.pk}/resolve/"
    no_note = operator.post(url, {}, format="json")
    assert no_note.status_code == 400
    assert_answers_as_declared(no_note, path=resolve, method="post")
    assert_answers_as_declared(operator.post(url, {"note": "x"}, format="json"), path=resolve, method="post")
    again = operator.post(url, {"note": "x"}, format="json")
    assert again.status_code == 409
    assert_answers_as_declared(again, path=resolve, method="post")


def test_runs_and_breaks_past_the_first_page_are_reached_page_by_page_newest_first(operator, with_a_break):
    run = with_a_break.first_seen_run
    older = [
        Break.objects.create(
            kind="BALANCE",
            csd=with_a_break.csd,
            isin=SHARES,
            account=f"OLDER-{n}",
            first_seen_at=with_a_break.first_seen_at,
            first_seen_run=run,
            last_seen_at=with_a_break.first_seen_at,
            last_seen_run=run,
        ).pk
        for n in range(2)
    ]
    everything = [b["id"] for b in operator.get("/api/v1/reconciliation/breaks/").json()]
    assert everything == sorted([with_a_break.pk, *older], reverse=True)
    first = operator.get("/api/v1/reconciliation/breaks/?limit=2").json()
    rest = operator.get(f"/api/v1/reconciliation/breaks/?limit=2&before={first[-1]['id']}").json()
    assert [[b["id"] for b in page] for page in (first, rest)] == [everything[:2], everything[2:]]
    runs = [r["id"] for r in operator.get("/api/v1/reconciliation/runs/").json()]
    assert len(runs) == 2
    first = operator.get("/api/v1/reconciliation/runs/?limit=1").json()
    rest = operator.get(f"/api/v1/reconciliation/runs/?before={first[0]['id']}").json()
    assert [r["id"] for r in first + rest] == runs
    for query in ("limit=0", "limit=501", "before=0", "before=x"):
        for what in ("runs", "breaks"):
            response = operator.get(f"/api/v1/reconciliation/{what}/?{query}")
            assert response.status_code == 400 and query.split("=")[0] in response.json(), (what, query)


def test_a_staff_user_without_the_permission_reads_breaks_but_cannot_acknowledge_resolve_or_run(
    viewer, with_a_break
):
    url = f"/api/v1/reconciliation/breaks/{with_a_break.pk}/"
    assert viewer.get(url).json()["status"] == "OPEN"
    assert viewer.get("/api/v1/reconciliation/runs/").status_code == 200
    for action in ("acknowledge/", "resolve/"):
        assert viewer.post(url + action, {"note": "mine now"}, format="json").status_code == 403, action
    assert viewer.post("/api/v1/reconciliation/runs/", {}, format="json").status_code == 403
    with_a_break.refresh_from_db()
    assert with_a_break.status == "OPEN" and Run.objects.filter(kind="DEMAND").count() == 1
