"""GET /health/ reports the database, the broker, the workers, the ledger's alarms and stuck or overdue
transfers (their stories: tests/hub/settlement/test_stuck_transfers.py); 503 when any of them is down, the
ledger has an alarm or a transfer waits on an operator."""

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.db import connections
from django.test import override_settings

from hub.celery import app
from hub.ledger import services as ledger_services
from hub.ledger.models import AlarmKind
from hub.ops import health

from ...conftest import _broker_connections_drop, broker_unreachable, celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_worker_probe(monkeypatch):
    """Each test starts with a process that has not probed the workers yet."""
    monkeypatch.setattr(health, "worker_probe", health.WorkerProbe())


def pings_queued() -> int:
    """The probes waiting in the default queue of the suite's Redis (no worker takes them here)."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        return broker.llen(settings.CELERY_TASK_DEFAULT_QUEUE)
    finally:
        broker.close()


def test_health_is_ok_with_database_broker_and_a_live_worker(client):
    with celery_worker():
        response = client.get("/health/")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["broker"]["ok"] and body["worker"]["ok"]
    assert body["worker"]["detail"] == "a worker answered the probe"
    assert body["ledger"]["ok"] and body["ledger"]["detail"] == "no alarms"
    assert body["settlement"]["ok"] and body["settlement"]["detail"] == "no transfer stuck or overdue"


@override_settings(HEALTH_WORKER_TIMEOUT_SECONDS=1)
def test_health_is_degraded_when_no_worker_answers(client):
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert body["worker"] == {
        "ok": False,
        "detail": "no worker answered within 1s",
        "latency_ms": body["worker"]["latency_ms"],
    }


def test_liveness_can_skip_the_worker_probe(client):
    response = client.get("/health/?worker=false")
    assert response.status_code == 200
    assert response.json()["worker"]["detail"] == "not probed"


def test_health_reports_an_unreachable_broker(client, monkeypatch):
    # Celery reads CELERY_BROKER_URL from the environment before its configuration
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    assert app.conf.broker_url == "redis://127.0.0.1:1/0"
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert not body["broker"]["ok"] and body["broker"]["detail"].startswith("redis:")
    assert body["worker"]["detail"] == "broker unreachable"


def test_health_needs_no_login(client):
    assert client.get("/health/?worker=false").status_code == 200


@override_settings(HEALTH_WORKER_TIMEOUT_SECONDS=1, HEALTH_WORKER_CACHE_SECONDS=600)
def test_the_worker_probe_is_sent_once_for_the_callers_of_a_few_seconds(client):
    before = pings_queued()
    first, second = client.get("/health/"), client.get("/health/")
    assert first.status_code == second.status_code == 503
    assert first.json()["worker"] == second.json()["worker"]
    assert pings_queued() == before + 1


@override_settings(HEALTH_WORKER_TIMEOUT_SECONDS=1, HEALTH_WORKER_CACHE_SECONDS=600)
def test_callers_at_the_same_moment_share_one_probe():
    before = pings_queued()
    start, found = threading.Barrier(4), []

    def call() -> None:
        start.wait()
        found.append(health.hub_health().worker.detail)
        connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert found == ["no worker answered within 1s"] * 4
    assert pings_queued() == before + 1


def test_an_anonymous_caller_is_told_what_is_down_but_not_the_error(client, admin_client):
    with broker_unreachable():
        anonymous = client.get("/health/").json()
        staff = admin_client.get("/health/").json()
    assert anonymous["broker"] == {
        "ok": False,
        "detail": "redis: unreachable",
        "latency_ms": anonymous["broker"]["latency_ms"],
    }
    assert anonymous["database"]["detail"] == "postgresql"
    assert "127.0.0.1:1" in staff["broker"]["detail"]  # where it is, and why it failed, for staff only


def test_a_ledger_alarm_makes_the_hub_degraded_and_says_what_to_do_but_not_to_anonymous_callers(
    client, admin_client, monkeypatch
):
    workers_up = health.ComponentHealth(ok=True, detail="a worker answered the probe", latency_ms=1.0)
    monkeypatch.setattr(health.worker_probe, "result", lambda: workers_up)
    ledger_services.alarm_raise(
        kind=AlarmKind.ENDORSED_OTHERWISE,
        csd="NSD",
        heights=(4, 9),
        message="NSD endorsed other blocks at heights 4 to 9 (6 blocks) and refuses the hub's blocks there",
    )
    anonymous, staff = client.get("/health/"), admin_client.get("/health/")
    assert anonymous.status_code == staff.status_code == 503
    assert anonymous.json()["status"] == "degraded"
    assert anonymous.json()["database"]["ok"] and anonymous.json()["worker"]["ok"]
    assert anonymous.json()["ledger"] == {
        "ok": False,
        "detail": "A CSD endorsed other blocks at the hub's heights",
        "latency_ms": anonymous.json()["ledger"]["latency_ms"],
    }
    assert staff.json()["ledger"]["detail"].startswith("NSD endorsed other blocks at heights 4 to 9")
    # liveness: the web process is up, and restarting it would mend nothing
    assert client.get("/health/?worker=false").status_code == 200
    ledger_services.alarms_clear(kind=AlarmKind.ENDORSED_OTHERWISE)
    assert client.get("/health/").status_code == 200


@contextlib.contextmanager
def result_backend_unreachable(url: str = "redis://127.0.0.1:1/0") -> Iterator[None]:
    """The result backend down (a Redis apart from the broker, as production may run it): nothing listens
    where ``url`` points, or nothing answers there. Celery keeps the backend per thread; the one before is
    put back on the way out."""
    saved = getattr(app._local, "backend", None), app._backend_cache
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(app.conf, "result_backend", url)
        app._local.__dict__.pop("backend", None)
        app._backend_cache = None
        try:
            yield
        finally:
            app._local.__dict__.pop("backend", None)
            app._local.backend, app._backend_cache = saved


def test_health_reports_a_worker_probe_the_result_backend_cannot_carry_instead_of_failing(client):
    with result_backend_unreachable():
        response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["broker"]["ok"] and not body["worker"]["ok"]
    # the error's own words are for staff only
    assert body["worker"]["detail"] == "probe failed in the result backend"


@contextlib.contextmanager
def silent_redis() -> Iterator[str]:
    """The URL of a Redis that takes connections and never answers (a server stalled, or a firewall that
    lets the handshake through): a socket that listens and never accepts, its backlog completing the
    connections the checks open."""
    with socket.create_server(("127.0.0.1", 0), backlog=32) as server:
        host, port = server.getsockname()
        yield f"redis://{host}:{port}/0"


def test_the_result_backend_client_gives_up_after_the_health_check_timeout_without_reconnecting_in_a_loop():
    backend = app.backend
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    assert backend.connparams["socket_connect_timeout"] == backend.connparams["socket_timeout"] == timeout
    assert backend.retry_policy["max_retries"] == 0


def test_health_reports_a_result_backend_that_never_answers_instead_of_waiting_on_it(client):
    with silent_redis() as url, result_backend_unreachable(url):
        response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["broker"]["ok"] and not body["worker"]["ok"]
    assert body["worker"]["detail"] == "probe failed in the result backend"


def test_health_reports_a_broker_that_never_answers_instead_of_waiting_on_it(client):
    with silent_redis() as url, broker_unreachable(url):
        response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["broker"] == {
        "ok": False,
        "detail": "redis: unreachable",
        "latency_ms": body["broker"]["latency_ms"],
    }
    assert body["worker"]["detail"] == "broker unreachable"


@pytest.mark.parametrize("url", ["foo://bar", "sqs://"])
def test_health_reports_a_broker_whose_transport_is_unknown_or_not_installed_instead_of_failing(client, url):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CELERY_BROKER_URL", url)  # as in broker_unreachable: read before the configuration
        _broker_connections_drop()
        try:
            response = client.get("/health/")
        finally:
            patch.undo()
            _broker_connections_drop()
    assert response.status_code == 503
    body = response.json()
    assert not body["broker"]["ok"] and body["broker"]["detail"] == f"{url.split('://')[0]}: unusable"
    assert body["worker"]["detail"] == "broker unreachable"
