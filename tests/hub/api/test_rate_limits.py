"""Each participant has its own budgets of writes and reads per window; over one, a request gets 429 with
Retry-After and the API's JSON error body, and nobody else's budget is touched."""

import math
import os
import sys
import threading
import uuid

import pytest
import requests
from django.core.management import call_command

from hub.api import ratelimit
from hub.messaging.models import InboundMessage
from hub.registry.models import Participant
from hub.registry.services import participant_token_issue

from ...conftest import database_url_for_children, free_port, running
from ...openapi import assert_answers_as_declared, declared_schema
from ..settlement.messages import NSD_BROKER, STRATE_BROKER, as_mx, instruction
from .conftest import NOW, WINDOW, post

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RETRY_AFTER = math.ceil(WINDOW - 15.25)


def send(client, tx: str):
    return post(client, as_mx(instruction("DELI", tx=tx)))


def test_a_participant_over_its_write_budget_gets_429_with_retry_after_and_the_error_body(limits, nsd_broker):
    assert [send(nsd_broker, f"RL-{n}").status_code for n in range(2)] == [202, 202]
    refused = send(nsd_broker, "RL-2")
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(RETRY_AFTER)
    assert refused.json() == {
        "detail": f"{NSD_BROKER} is over its write budget of 2 requests per {WINDOW} seconds. "
        f"Expected available in {RETRY_AFTER} seconds."
    }
    assert_answers_as_declared(refused, path="/api/v1/messages/", method="post")
    # refused before it was read: nothing kept, no status message, none of the answer's headers
    assert InboundMessage.objects.count() == 2
    assert "X-Hub-Outcome" not in refused
    bulk = post(nsd_broker, as_mx(instruction("DELI", tx="RL-3")), path="/api/v1/messages/bulk/")
    assert bulk.status_code == 429 and bulk["Retry-After"] == str(RETRY_AFTER)
    assert_answers_as_declared(bulk, path="/api/v1/messages/bulk/", method="post")


def test_the_first_refusal_of_a_window_is_logged_with_the_participant(limits, nsd_broker, caplog):
    for n in range(4):
        send(nsd_broker, f"LOG-{n}")
    refusals = [r.getMessage() for r in caplog.records if r.name == "hub.api.ratelimit"]
    assert refusals == [
        f"{NSD_BROKER} is over its write budget of 2 requests per 60s: refused with 429 for the next 45s"
    ]


def test_another_participant_is_not_limited_in_the_same_window(limits, nsd_broker, strate_broker):
    for n in range(3):
        send(nsd_broker, f"MINE-{n}")
    for _ in range(4):
        nsd_broker.get("/api/v1/accounts/")
    assert send(nsd_broker, "MINE-3").status_code == 429
    assert nsd_broker.get("/api/v1/accounts/").status_code == 429
    assert strate_broker.get("/api/v1/accounts/").status_code == 200
    assert strate_broker.get("/api/v1/messages/outbox/").status_code == 200
    assert post(strate_broker, b"<not-a-message/>").status_code == 400  # answered, with a status message


def test_reads_and_writes_have_separate_budgets(limits, nsd_broker):
    for path in ("/api/v1/messages/outbox/", "/api/v1/instructions/", "/api/v1/accounts/"):
        assert nsd_broker.get(path).status_code == 200
    # the three reads spent the read budget, whatever they read
    for path, declared in (
        ("/api/v1/messages/outbox/", "/api/v1/messages/outbox/"),
        ("/api/v1/instructions/", "/api/v1/instructions/"),
        ("/api/v1/instructions/1/", "/api/v1/instructions/{id}/"),
        ("/api/v1/accounts/", "/api/v1/accounts/"),
        ("/api/v1/accounts/DEMARUMM-OWN/holdings/", "/api/v1/accounts/{number}/holdings/"),
    ):
        refused = nsd_broker.get(path)
        assert refused.status_code == 429 and refused["Retry-After"] == str(RETRY_AFTER), path
        assert refused.json()["detail"].startswith(f"{NSD_BROKER} is over its read budget of 3 requests")
        assert_answers_as_declared(refused, path=declared)
    # while writes still go, and spending them leaves the reads as they were
    assert [send(nsd_broker, f"SEP-{n}").status_code for n in range(3)] == [202, 202, 429]


def test_the_openapi_schema_declares_429_with_retry_after_on_every_participant_call(demo):
    schema = declared_schema()
    limited = {
        operation["operationId"]: operation["responses"].get("429", {}).get("headers", {})
        for path, methods in schema["paths"].items()
        if path.startswith(("/api/v1/messages/", "/api/v1/instructions/", "/api/v1/accounts/"))
        for operation in methods.values()
    }
    assert len(limited) == 7
    assert all("Retry-After" in headers for headers in limited.values()), limited
    assert "429" not in schema["paths"]["/health/"]["get"]["responses"]


def test_a_budget_is_renewed_when_the_next_window_starts(limits, nsd_broker, monkeypatch):
    for _ in range(3):
        nsd_broker.get("/api/v1/accounts/")
    assert nsd_broker.get("/api/v1/accounts/").status_code == 429
    monkeypatch.setattr(ratelimit, "clock", lambda: NOW + RETRY_AFTER)
    assert nsd_broker.get("/api/v1/accounts/").status_code == 200


def test_an_unauthenticated_call_is_refused_as_before_and_spends_no_budget(limits, nsd_broker, client):
    for _ in range(5):
        assert client.get("/api/v1/accounts/").status_code == 401
    assert nsd_broker.get("/api/v1/accounts/").status_code == 200


def test_health_and_the_admin_have_no_rate_limit(limits, nsd_broker, client):
    limits.API_RATE_LIMIT_READS = 1
    nsd_broker.get("/api/v1/accounts/")
    assert nsd_broker.get("/api/v1/accounts/").status_code == 429
    for _ in range(3):
        assert client.get("/health/?worker=false").status_code == 200
        assert client.get("/admin/login/").status_code == 200


# --- A limit from the environment, counted across real web processes -------------------------------------


def _hammer(url: str, token: str, requests_: int) -> list[int]:
    """``requests_`` GETs of ``url`` at once, from as many threads; their statuses."""
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(requests_)

    def one() -> None:
        start.wait()
        status = requests.get(url, headers={"Authorization": f"Token {token}"}, timeout=30).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(requests_)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("store", ["redis", "sqlite"])
def test_a_limit_set_in_the_environment_holds_exactly_across_gunicorn_workers(store, tmp_path):
    call_command("seed_demo", verbosity=0)
    tokens = [
        participant_token_issue(participant=Participant.objects.get(bic=bic))
        for bic in (NSD_BROKER, STRATE_BROKER)
    ]
    env = {
        "DATABASE_URL": database_url_for_children(),
        # a namespace of the test's own, so no other test's counts share its keys
        "CELERY_QUEUE": f"test-rate-{uuid.uuid4().hex}",
        "API_RATE_LIMIT_READS": "7",
        "API_RATE_LIMIT_WINDOW_SECONDS": "86400",
    }
    if store == "redis":
        env["API_RATE_LIMIT_REDIS_URL"] = REDIS_URL
    else:
        # the embedded default: no Redis anywhere, counts in a SQLite file in the var folder
        env |= {
            "CELERY_BROKER_URL": "filesystem://",
            "API_RATE_LIMIT_REDIS_URL": "",
            "HUB_VAR_DIR": str(tmp_path),
        }
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "hub.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    url = f"http://127.0.0.1:{port}/api/v1/accounts/"
    with running(command, env=env) as web:
        web.wait_until(
            lambda: _up(f"http://127.0.0.1:{port}/health/?worker=false"), timeout=60, what="gunicorn"
        )
        # a burst that crossed midnight UTC (once in some 86,400 runs) spent budgets of two windows: the
        # other participant's budget, untouched, then gets a burst of its own within one
        for token in tokens:
            day = ratelimit.clock() // 86400
            statuses = _hammer(url, token, 20)
            if ratelimit.clock() // 86400 == day:
                break
    assert sorted(statuses) == [200] * 7 + [429] * 13
    if store == "sqlite":
        assert (tmp_path / "api-rate-limits.sqlite3").exists()


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
