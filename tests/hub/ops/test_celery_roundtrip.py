"""A task goes through the broker to a real worker process and its result comes back: on Redis (the
production broker) and on the embedded default's filesystem broker (no server at all)."""

import os
import secrets
import subprocess
import sys

import pytest

from ...conftest import REPO_ROOT, celery_worker

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

SEND_AND_WAIT = (
    "import sys, django; django.setup(); from hub.ops.tasks import ping; "
    "print(ping.apply_async(args=[sys.argv[1]]).get(timeout=30))"
)


def client_round_trip(token: str, env: dict) -> str:
    result = subprocess.run(
        [sys.executable, "-c", SEND_AND_WAIT, token],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.django_db
def test_a_task_round_trips_through_a_real_worker_on_redis():
    env = {
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "CELERY_QUEUE": f"rt-{secrets.token_hex(6)}",
    }
    token = secrets.token_hex(8)
    with celery_worker(env) as worker:
        assert client_round_trip(token, env) == token
        assert "hub.ops.ping" in worker.output() and "succeeded" in worker.output()


@pytest.mark.django_db
def test_a_task_round_trips_through_a_real_worker_on_the_embedded_filesystem_broker(tmp_path):
    env = {"CELERY_BROKER_URL": "", "CELERY_RESULT_BACKEND": "", "HUB_VAR_DIR": str(tmp_path)}
    token = secrets.token_hex(8)
    with celery_worker(env) as worker:
        assert client_round_trip(token, env) == token
        assert "succeeded" in worker.output()
    assert (tmp_path / "broker" / "queue").is_dir()


def test_with_no_worker_on_the_embedded_broker_health_says_so_rather_than_failing(tmp_path):
    # the file result backend holds no result to forget when nobody answered the probe
    probe = "import django; django.setup(); from hub.ops.health import _worker; print(_worker())"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": "",
        "CELERY_RESULT_BACKEND": "",
        "HUB_VAR_DIR": str(tmp_path),
        "HEALTH_WORKER_TIMEOUT_SECONDS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "(False, 'no worker answered within 1s', '')"
