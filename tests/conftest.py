"""Fixtures and helpers shared by the whole suite: the reference corpus and real child processes."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def reference_root() -> Path:
    """The shared ISO 20022 reference corpus (official XSDs, real samples), never copied into the repo."""
    configured = os.environ.get("ISO20022_REFERENCE")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "iso20022-reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    root = reference_root()
    if not (root / "MANIFEST.md").exists():
        pytest.fail(f"ISO 20022 reference corpus not found at {root}; set ISO20022_REFERENCE")
    return root


# --- Real processes: Celery workers, beat, web servers ------------------------------------------------


_ports_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, and one this process has not handed out before: the system may give a
    port just closed again, and two servers told the same port collide (one of them never starts)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _ports_handed_out:
            _ports_handed_out.add(port)
            return port


def database_url_for_children() -> str:
    """The URL of the database the tests use (pytest-django's test database), for child processes."""
    from django.db import connection

    params = connection.settings_dict
    if params["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{params['NAME']}"
    host, port = params.get("HOST") or "127.0.0.1", params.get("PORT") or 5432
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    return f"postgres://{params['USER']}{password}@{host}:{port}/{params['NAME']}"


class Child:
    """A child process whose combined output is kept in a temporary file for assertions and failures."""

    def __init__(self, command: list[str], env: dict) -> None:
        self.command = command
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def wait_until(self, condition: Callable[[], bool], *, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"{what}: {' '.join(self.command)} (exit {self.process.poll()}):\n{self.output()[-4000:]}"
                )
            time.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


@contextlib.contextmanager
def running(command: list[str], *, env: dict | None = None) -> Iterator[Child]:
    child = Child(command, env or {})
    try:
        yield child
    finally:
        child.stop()


def celery_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "hub", *args]


@contextlib.contextmanager
def celery_worker(env: dict | None = None, concurrency: int = 1) -> Iterator[Child]:
    """A real Celery worker process (prefork pool), once it reports itself ready."""
    env = {"DATABASE_URL": database_url_for_children(), **(env or {})}
    name = f"test-{time.time_ns()}@%h"
    with running(
        celery_command("worker", "-l", "info", "-c", str(concurrency), "-n", name), env=env
    ) as worker:
        worker.wait_until(lambda: "ready." in worker.output(), timeout=60, what="Celery worker did not start")
        yield worker


@contextlib.contextmanager
def broker_unreachable(url: str = "redis://127.0.0.1:1/0") -> Iterator[None]:
    """Celery's broker down, as this process sees it: nothing listens where ``url`` points, or nothing
    answers there. Celery reads ``CELERY_BROKER_URL`` from the environment before its configuration, and
    keeps broker connections in pools, which start anew on the way in and on the way out."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CELERY_BROKER_URL", url)
        _broker_connections_drop()
        try:
            yield
        finally:
            patch.undo()
            _broker_connections_drop()


def _broker_connections_drop() -> None:
    from kombu import pools

    from hub.celery import app

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
