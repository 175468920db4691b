"""What `make run` does, end to end, on the embedded default (SQLite, filesystem broker, no outside
service): migrate, seed the demo, export the reference CSDs' seeds, then web, worker, beat and one
reference CSD per demo CSD together on 127.0.0.1 until Ctrl-C."""

import contextlib
import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from ...conftest import REPO_ROOT, free_port, running

pytestmark = pytest.mark.slow

CSDS = ("NSD", "STRATE", "CSCS", "MCDR", "KACD")

OUTSIDE_CONFIG = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CELERY_QUEUE",
    "DJANGO_SETTINGS_MODULE",
)


@pytest.fixture
def embedded_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in OUTSIDE_CONFIG}
    return env | {
        "DEBUG": "true",
        "HUB_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "HUB_DEMO_ADMIN_PASSWORD": "demo-pass",
    }


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def get(opener, url: str, data: dict | None = None) -> tuple[int, str]:
    body = urllib.parse.urlencode(data).encode() if data else None
    try:
        with opener.open(url, data=body, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def test_make_run_serves_admin_and_health_with_demo_data_and_stops_on_ctrl_c(embedded_env):
    manage(embedded_env, "migrate", "--noinput")
    assert "invariants 1-3 hold" in manage(embedded_env, "seed_demo")
    csd_ports = {code: free_port() for code in CSDS}
    exported = manage(
        embedded_env, "reference_csds", "export", *(f"--port={c}={p}" for c, p in csd_ports.items())
    )
    assert f"5 reference CSDs exported to {embedded_env['HUB_VAR_DIR']}/reference_csd" in exported
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    # running() starts from this process's environment: blank out what would point at outside services
    child_env = {k: embedded_env.get(k, "") for k in OUTSIDE_CONFIG} | embedded_env
    with running([sys.executable, "manage.py", "runhub", "--port", str(port)], env=child_env) as hub:
        hub.wait_until(
            lambda: get(opener, f"{base}/health/")[0] == 200,
            timeout=90,
            what="the hub did not report healthy",
        )
        for code, csd_port in csd_ports.items():  # each demo CSD's reference CSD, seeded from the registry
            hub.wait_until(
                lambda p=csd_port: get(opener, f"http://127.0.0.1:{p}/health")[0] == 200,
                timeout=30,
                what=f"the reference CSD of {code} did not start",
            )
            status, body = get(opener, f"http://127.0.0.1:{csd_port}/health")
            assert json.loads(body)["csd"] == code
            assert f"{code}: seeded" in hub.output()
        status, body = get(opener, f"{base}/health/")
        assert '"status":"ok"' in body.replace(" ", "") and '"detail":"sqlite"' in body.replace(" ", "")
        assert f"hub running: {base}/" in hub.output()

        status, page = get(opener, f"{base}/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        get(
            opener,
            f"{base}/admin/login/?next=/admin/",
            {"username": "admin", "password": "demo-pass", "csrfmiddlewaretoken": token},
        )
        status, page = get(opener, f"{base}/admin/registry/csd/")
        assert status == 200 and "NADCRUMM" in page and "STRAZAJJ" in page

        os.killpg(hub.process.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
        hub.process.wait(timeout=30)
        assert "hub stopped" in hub.output()
        with pytest.raises(ProcessLookupError):  # web, worker, beat and the reference CSDs are gone with it
            os.killpg(hub.process.pid, 0)
    assert get(opener, f"{base}/health/")[0] == 0  # nothing listens any more
    assert all(get(opener, f"http://127.0.0.1:{p}/health")[0] == 0 for p in csd_ports.values())


# runhub in a process of its own, with subprocess.Popen wrapped to report each child it starts and to send
# runhub a SIGTERM (as a service manager stopping it would) the moment its first child has started
TERMINATED_WHILE_STARTING = """
import os, signal, subprocess, sys
import django
django.setup()
real_popen = subprocess.Popen
def popen(*args, **kwargs):
    child = real_popen(*args, **kwargs)
    print("child", child.pid, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    return child
subprocess.Popen = popen
from django.core.management import call_command
call_command("runhub", "--port", sys.argv[1], "--no-reference-csds")
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a child runhub started but did not wait for is a zombie of nobody's until init reaps it
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_runhub_stopped_while_it_starts_its_processes_leaves_none_behind(embedded_env, tmp_path):
    env = {k: v for k, v in embedded_env.items() if k != "DEBUG"} | {
        "SECRET_KEY": "s" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    # output to a file: a child left behind would hold a pipe open, and reading it would never end
    output = tmp_path / "runhub.out"
    with output.open("w") as out:
        subprocess.run(
            [sys.executable, "-c", TERMINATED_WHILE_STARTING, str(free_port())],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    said = output.read_text()
    children = [int(line.split()[1]) for line in said.splitlines() if line.startswith("child ")]
    try:
        assert children, said
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if alive(pid)], said
        assert "hub stopped" in output.read_text()
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
