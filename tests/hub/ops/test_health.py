"""GET /health/ reports the database, the broker and the workers; 503 when any of them is down."""

import pytest
from django.test import override_settings

from hub.celery import app

from ...conftest import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


def test_health_is_ok_with_database_broker_and_a_live_worker(client):
    with celery_worker():
        response = client.get("/health/")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["broker"]["ok"] and body["worker"]["ok"]
    assert body["worker"]["detail"] == "a worker answered the probe"


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
