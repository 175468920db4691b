"""Health of the hub's moving parts: the database, the Celery broker and at least one worker."""

import contextlib
import secrets
import time
from dataclasses import asdict, dataclass

from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from django.db import DatabaseError, connection
from kombu.exceptions import OperationalError as KombuOperationalError

from hub.celery import app
from hub.ops.tasks import ping


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    ok: bool
    detail: str
    latency_ms: float


@dataclass(frozen=True, slots=True)
class HubHealth:
    database: ComponentHealth
    broker: ComponentHealth
    worker: ComponentHealth

    @property
    def ok(self) -> bool:
        return self.database.ok and self.broker.ok and self.worker.ok

    def as_dict(self) -> dict:
        return {"status": "ok" if self.ok else "degraded", **asdict(self)}


def _timed(check) -> ComponentHealth:
    started = time.perf_counter()
    ok, detail = check()
    return ComponentHealth(ok=ok, detail=detail, latency_ms=round((time.perf_counter() - started) * 1000, 2))


def _database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return False, f"{connection.vendor}: {exc}".strip()
    return True, connection.vendor


def _broker() -> tuple[bool, str]:
    url = app.conf.broker_url or ""
    transport = url.split("://", 1)[0]
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except (KombuOperationalError, OSError) as exc:
        return False, f"{transport}: {exc}"
    return True, transport


def _worker() -> tuple[bool, str]:
    """A real round trip: a probe task through the broker, answered by a worker through the result backend."""
    timeout = settings.HEALTH_WORKER_TIMEOUT_SECONDS
    token = secrets.token_hex(8)
    try:
        # an unanswered probe expires, so probes never pile up in the queue while no worker runs
        result = ping.apply_async(args=[token], expires=timeout)
    except (KombuOperationalError, OSError) as exc:
        return False, f"probe could not be sent: {exc}"
    try:
        answer = result.get(timeout=timeout, propagate=False)
    except CeleryTimeout:
        return False, f"no worker answered within {timeout}s"
    finally:
        # the file result backend has nothing to forget when no worker answered
        with contextlib.suppress(OSError):
            result.forget()
    if answer != token:
        return False, f"unexpected answer from worker: {answer!r}"
    return True, "a worker answered the probe"


def hub_health(*, include_worker: bool = True) -> HubHealth:
    """``include_worker=False`` is for liveness probes of the web process, which must not wait on workers."""
    database = _timed(_database)
    broker = _timed(_broker)
    if not broker.ok:
        worker = ComponentHealth(ok=False, detail="broker unreachable", latency_ms=0.0)
    elif include_worker:
        worker = _timed(_worker)
    else:
        worker = ComponentHealth(ok=True, detail="not probed", latency_ms=0.0)
    return HubHealth(database=database, broker=broker, worker=worker)
