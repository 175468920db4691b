"""Helpers the benchmarks share (not a benchmark itself: `make bench` skips files starting with _)."""

from __future__ import annotations

import contextlib
import math
import platform
import signal
import socket
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import psycopg2
import requests

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


def connection_params(url: str) -> tuple[str, dict]:
    """(database name, psycopg2 keyword arguments without the database) for a PostgreSQL URL."""
    parts = urllib.parse.urlparse(url)
    params = {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password,
    }
    return parts.path.lstrip("/"), params


def recreate_database(url: str) -> None:
    """Drop the benchmark's database if it exists, and create it empty."""
    name, params = connection_params(url)
    admin = psycopg2.connect(dbname="postgres", **params)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def drop_database(url: str, name: str | None = None) -> None:
    """Drop the benchmark's database (the one ``recreate_database`` made), or the database ``name`` on the
    same server, if it is there."""
    url_name, params = connection_params(url)
    name = name or url_name
    admin = psycopg2.connect(dbname="postgres", **params)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


_signals_held: list[int] | None = None


def _stop(signum: int, _frame) -> None:
    if _signals_held is not None:
        _signals_held.append(signum)
    elif signum == signal.SIGINT:
        raise KeyboardInterrupt
    else:
        raise SystemExit(128 + signum)


def exit_on_sigterm() -> None:
    """A SIGTERM (a cancelled CI job, ``timeout``, ``kill``) ends the bench as Ctrl-C does, through its
    ``finally`` blocks, so the processes, databases and folders it made go with it: Python's default ends
    the process at once and leaves them behind. Both wait while ``signals_held``."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


@contextlib.contextmanager
def signals_held():
    """SIGTERM and Ctrl-C wait until the block is done: around starting a process and recording it, so
    that a signal between the two cannot leave a process the cleanup does not know of."""
    global _signals_held
    _signals_held = []
    try:
        yield
    finally:
        held, _signals_held = _signals_held, None
        if held:
            _stop(held[0], None)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value that at least ``share`` of the values do not exceed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def interpreter() -> dict:
    """Which Python ran the bench: the same code runs about a quarter faster on a statically linked build
    than on one that loads libpython as a shared library (as pyenv's default build does), so figures say
    which it was (``libpython_shared`` is None where /proc cannot tell)."""
    try:
        shared = "libpython" in Path("/proc/self/maps").read_text()
    except OSError:
        shared = None
    return {"version": platform.python_version(), "executable": sys.executable, "libpython_shared": shared}


def wait_until_up(
    url: str,
    *,
    what: str,
    timeout: float,
    ready: Callable[[requests.Response], bool] = lambda response: response.ok,
    get: Callable[..., requests.Response] = requests.get,
) -> None:
    """Ask ``url`` until its answer is ``ready`` (a connection refused or lost is asked again), or stop the
    bench saying that ``what`` did not start within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready(get(url, timeout=min(5.0, timeout))):
                return
        except (requests.RequestException, ValueError):  # not up yet, or not answering in JSON yet
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start within {timeout:.0f} s")
