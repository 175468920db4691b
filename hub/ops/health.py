"""Health of the hub's moving parts: the database, the Celery broker, at least one worker, the shared
ledger's alarms (conditions the sealing task met that wait on an operator, such as a CSD that refuses the
hub's blocks: transfers wait on them, though every process is up), and settlement's stuck and overdue
transfers (a CSD that refuses to post a leg after the anchor, answers that leave a leg's outcome unknown,
transfers no run takes).

The worker probe is a round trip through the broker that may wait ``HEALTH_WORKER_TIMEOUT_SECONDS`` for an
answer: its result is kept for ``HEALTH_WORKER_CACHE_SECONDS``, and a process sends one probe at a time,
so callers in quick succession (monitoring, a load balancer) never hold a web worker each. The broker, and
the result backend the probe's answer comes back through, are each given ``HEALTH_CHECK_TIMEOUT_SECONDS``
to connect and answer: a load balancer gives up on the hub after a few seconds, and it should hear what is
down rather than nothing.

Each component says what is up or down in words anyone may read (``summary``), and why in the error's own
words (``detail``: addresses, user names, driver messages) for staff only.
"""

import contextlib
import datetime as dt
import secrets
import threading
import time
from dataclasses import dataclass

from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from hub.celery import app
from hub.ledger.selectors import alarms_open
from hub.ops.tasks import ping
from hub.settlement.selectors import transfers_counted, transfers_overdue, transfers_stuck


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    ok: bool
    detail: str
    latency_ms: float
    summary: str = ""  # what anyone may be told; ``detail`` holds nothing more when empty

    def as_dict(self, *, full: bool) -> dict:
        return {
            "ok": self.ok,
            "detail": self.detail if full or not self.summary else self.summary,
            "latency_ms": self.latency_ms,
        }


@dataclass(frozen=True, slots=True)
class HubHealth:
    database: ComponentHealth
    broker: ComponentHealth
    worker: ComponentHealth
    ledger: ComponentHealth
    settlement: ComponentHealth

    @property
    def ok(self) -> bool:
        return all(
            part.ok for part in (self.database, self.broker, self.worker, self.ledger, self.settlement)
        )

    def as_dict(self, *, full: bool = False) -> dict:
        """Every component's state; ``full`` adds the errors' own words (for staff)."""
        return {
            "status": "ok" if self.ok else "degraded",
            "database": self.database.as_dict(full=full),
            "broker": self.broker.as_dict(full=full),
            "worker": self.worker.as_dict(full=full),
            "ledger": self.ledger.as_dict(full=full),
            "settlement": self.settlement.as_dict(full=full),
        }


def _timed(check) -> ComponentHealth:
    started = time.perf_counter()
    ok, detail, summary = check()
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return ComponentHealth(ok=ok, detail=detail, latency_ms=latency_ms, summary=summary)


def _database() -> tuple[bool, str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return False, f"{connection.vendor}: {exc}".strip(), f"{connection.vendor}: unavailable"
    return True, connection.vendor, ""


def _broker() -> tuple[bool, str, str]:
    url = app.conf.broker_url or ""
    transport = url.split("://", 1)[0]
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    # one attempt, with the transport's own timeouts bounded: Redis's client has none by default, so a
    # broker that took the connection and never answered held the check for good
    bounded = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    try:
        with app.connection_for_write(connect_timeout=timeout, transport_options=bounded) as conn:
            conn.ensure_connection(max_retries=0)
    except (KombuOperationalError, OSError) as exc:
        return False, f"{transport}: {exc}", f"{transport}: unreachable"
    except Exception as exc:  # noqa: BLE001 - a transport kombu does not know, or one not installed
        return False, f"{transport}: {type(exc).__name__}: {exc}", f"{transport}: unusable"
    return True, transport, ""


def _ledger() -> tuple[bool, str, str]:
    """The ledger's alarms, as the sealing task left them: each says what is wrong and what to do."""
    try:
        alarms = alarms_open()
    except DatabaseError as exc:
        return False, f"alarms not read: {exc}", "alarms not read"
    if not alarms:
        return True, "no alarms", ""
    kinds = sorted({alarm.get_kind_display() for alarm in alarms})
    return False, "; ".join(alarm.message for alarm in alarms), "; ".join(kinds)


SETTLEMENT_DETAIL_TRANSFERS = 5  # the longest held stuck transfers /health/ names; settlement_stuck lists all


def _settlement() -> tuple[bool, str, str]:
    """Transfers that wait on an operator (``transfers_stuck``) and transfers no run has taken for
    ``SETTLEMENT_OVERDUE_ALERT_SECONDS`` (``transfers_overdue``)."""
    now = timezone.now()
    try:
        stuck, held = transfers_stuck(
            now=now,
            older_than=dt.timedelta(seconds=settings.SETTLEMENT_STUCK_ALERT_SECONDS),
            limit=SETTLEMENT_DETAIL_TRANSFERS,
        )
        overdue, oldest = transfers_overdue(
            now=now, by=dt.timedelta(seconds=settings.SETTLEMENT_OVERDUE_ALERT_SECONDS)
        )
    except DatabaseError as exc:
        return False, f"transfers not read: {exc}", "transfers not read"
    if not stuck and not overdue:
        return True, "no transfer stuck or overdue", ""
    found, said = [], []
    if stuck:
        found.append(f"{transfers_counted(stuck)} stuck")
        said.append(
            f"{found[-1]} (manage.py settlement_stuck lists them): "
            + "; ".join(item.described() for item in held)
            + ("; ..." if stuck > len(held) else "")
        )
    if overdue:
        found.append(f"{transfers_counted(overdue)} overdue")
        said.append(
            f"{found[-1]}: due since {oldest.isoformat(timespec='seconds')} and no run has taken "
            f"{'them' if overdue != 1 else 'it'} (are the workers and beat running, and keeping up?)"
        )
    return False, ". ".join(said), "; ".join(found)


def _worker() -> tuple[bool, str, str]:
    """A real round trip: a probe task through the broker, answered by a worker through the result backend.

    Any failure of the round trip is a finding, never an error of the health check: the result backend
    (a Redis apart from the broker, say) raises its client's own errors, and Celery gives up on one that
    is down with a RuntimeError, after ``HEALTH_CHECK_TIMEOUT_SECONDS`` and one reconnection (settings)."""
    timeout = settings.HEALTH_WORKER_TIMEOUT_SECONDS
    token = secrets.token_hex(8)
    try:
        # an unanswered probe expires, so probes never pile up in the queue while no worker runs
        result = ping.apply_async(args=[token], expires=timeout)
    except (KombuOperationalError, OSError) as exc:
        return False, f"probe could not be sent: {exc}", "probe could not be sent"
    except Exception as exc:  # noqa: BLE001 - the result backend's, whatever its client raises
        return (
            False,
            f"probe failed: {type(exc).__name__}: {exc}".strip(),
            "probe failed in the result backend",
        )
    try:
        answer = result.get(timeout=timeout, propagate=False)
    except CeleryTimeout:
        return False, f"no worker answered within {timeout}s", ""
    except Exception as exc:  # noqa: BLE001 - as above
        return (
            False,
            f"probe failed: {type(exc).__name__}: {exc}".strip(),
            "probe failed in the result backend",
        )
    finally:
        # the file result backend has nothing to forget when no worker answered; a backend that is down
        # has nothing to forget either
        with contextlib.suppress(Exception):
            result.forget()
    if answer != token:
        return False, f"unexpected answer from worker: {answer!r}", "unexpected answer from a worker"
    return True, "a worker answered the probe", ""


class WorkerProbe:
    """The worker probe's last result, kept ``HEALTH_WORKER_CACHE_SECONDS``; one probe at a time. A caller
    that finds a probe in flight is given the result before it, or, in a process that has none yet, waits
    for the one in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[float, ComponentHealth] | None = None

    def result(self) -> ComponentHealth:
        last = self._last
        if last is not None and time.monotonic() - last[0] < settings.HEALTH_WORKER_CACHE_SECONDS:
            return last[1]
        if not self._lock.acquire(blocking=last is None):
            return last[1]  # another caller is probing: the result before it stands meanwhile
        try:
            last = self._last
            if last is not None and time.monotonic() - last[0] < settings.HEALTH_WORKER_CACHE_SECONDS:
                return last[1]  # probed while this caller waited for the lock
            found = _timed(_worker)
            self._last = (time.monotonic(), found)
            return found
        finally:
            self._lock.release()


worker_probe = WorkerProbe()  # one per process


def hub_health(*, include_worker: bool = True) -> HubHealth:
    """``include_worker=False`` is for liveness probes of the web process, which must not wait on workers
    and must not fail over the ledger's alarms or stuck transfers (restarting the web mends none of them;
    a deployment that waits for the web to be up, as docker-compose's reference CSD setup does, would never
    go on)."""
    database = _timed(_database)
    broker = _timed(_broker)
    if not broker.ok:
        worker = ComponentHealth(ok=False, detail="broker unreachable", latency_ms=0.0)
    elif include_worker:
        worker = worker_probe.result()
    else:
        worker = ComponentHealth(ok=True, detail="not probed", latency_ms=0.0)
    if not database.ok:
        ledger = settlement = ComponentHealth(ok=False, detail="database unavailable", latency_ms=0.0)
    elif include_worker:
        ledger = _timed(_ledger)
        settlement = _timed(_settlement)
    else:
        ledger = settlement = ComponentHealth(ok=True, detail="not checked", latency_ms=0.0)
    return HubHealth(database=database, broker=broker, worker=worker, ledger=ledger, settlement=settlement)
