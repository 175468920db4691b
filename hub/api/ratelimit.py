"""Per-caller rate limits of the participant API and the CSD ledger API, so that one caller's runaway client
cannot take the web workers from every other caller and from the operators.

Each authenticated participant has two budgets of requests per fixed window of
``API_RATE_LIMIT_WINDOW_SECONDS``: one for writes (``API_RATE_LIMIT_WRITES``: sending messages, singly or in a
bulk file) and one for reads (``API_RATE_LIMIT_READS``: the outbox, instructions, accounts), so that a
client polling its outbox in a tight loop does not stop its own instructions, nor the other way round. A
request over its budget is answered ``429`` with ``Retry-After`` (the seconds left in the window) and the
API's JSON error body, before its body is read: it is neither kept nor answered with a status message.
ISO 20022 has no reason code for throttling, so the refusal is an HTTP one and no sese.024 / MT548 is made.
A CSD calling the CSD ledger API (reads only) has the same budgets, counted under its code apart from every
participant's.

Counts live where every web process sees them and are incremented atomically (one request, one count,
however many arrive at once): in Redis (``INCR`` and ``EXPIRE`` in one ``MULTI``), or on the embedded
default, which runs no server, in a SQLite file beside the hub's database (one ``INSERT ... ON CONFLICT DO
UPDATE ... RETURNING`` statement, which SQLite runs under its write lock). A store that fails does not
take the API down: requests pass uncounted, with a warning, and the process leaves the store alone for
``STORE_RETRY_SECONDS`` so that an outage does not add a timeout to every request.
"""

import logging
import math
import os
import sqlite3
import threading
import time
from functools import lru_cache
from pathlib import Path

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

# how long a store may take to connect or answer before the request goes on without it: the limiter sits in
# front of every participant request, so a slow store must cost little
STORE_TIMEOUT_SECONDS = 0.5
# after a failure, how long a process lets requests pass without asking the store again
STORE_RETRY_SECONDS = 5


class StoreUnavailable(Exception):
    """The counting store did not answer; the request is let through."""


class RedisCounter:
    """Counts in Redis, one key per participant, budget and window; each key expires after its window."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(
            url,
            socket_connect_timeout=STORE_TIMEOUT_SECONDS,
            socket_timeout=STORE_TIMEOUT_SECONDS,
            # one attempt: redis-py otherwise retries three times with a backoff of up to seconds
            retry=Retry(NoBackoff(), 0),
        )
        kwargs = self._client.connection_pool.connection_kwargs
        # named in warnings without the URL, which may hold a password
        place = kwargs.get("path") or "{}:{}".format(kwargs.get("host"), kwargs.get("port", 6379))
        self.where = f"Redis at {place}"

    def hit(self, key: str, *, window: int, ttl: int) -> int:
        """Counts one request under ``key`` in window number ``window``; returns the window's count so far."""
        try:
            with self._client.pipeline(transaction=True) as pipe:
                # the window's number is in the key, so a key is never carried into the next window, and the
                # expiry only clears it away; both commands run in one MULTI, so no key is left without one
                pipe.incr(f"{key}:{window}")
                pipe.expire(f"{key}:{window}", ttl)
                count, _ = pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return int(count)


class SqliteCounter:
    """Counts in a SQLite file, one row per participant and budget holding its current window and count.
    For the embedded default (``make run``), whose web processes share a machine but no server."""

    def __init__(self, path: Path, *, timeout: float = STORE_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.where = f"SQLite file {path}"
        self.timeout = timeout  # how long a count waits for the file's write lock
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        # one connection per thread (runserver answers each request in a thread) and per process (a
        # connection must not cross a fork)
        connection = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            # counts of a few seconds are not worth a disk flush per request; the write-ahead log lets
            # counting go on while another process reads
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS api_rate_limit "
                "(key TEXT PRIMARY KEY, slot INTEGER NOT NULL, count INTEGER NOT NULL)"
            )
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def hit(self, key: str, *, window: int, ttl: int) -> int:
        """Counts one request under ``key`` in window number ``window``; returns the window's count so far."""
        try:
            # One statement, so one write lock: the read of the old count and the write of the new one cannot
            # interleave with another process's. A later window starts again at one; a request stamped with an
            # earlier window (a clock a little behind) counts in the current one rather than resetting it.
            (count,) = (
                self._connection()
                .execute(
                    "INSERT INTO api_rate_limit (key, slot, count) VALUES (?, ?, 1) "
                    "ON CONFLICT (key) DO UPDATE SET "
                    "count = CASE WHEN excluded.slot > slot THEN 1 ELSE count + 1 END, "
                    "slot = MAX(slot, excluded.slot) "
                    "RETURNING count",
                    (key, window),
                )
                .fetchone()
            )
        except (sqlite3.Error, OSError) as exc:  # OSError: its folder cannot be made
            raise StoreUnavailable(str(exc)) from exc
        return int(count)


class Limiter:
    """A counter with its failure policy: an unavailable store lets requests through (fail open) and is left
    alone for ``STORE_RETRY_SECONDS``, with one warning per outage and process."""

    def __init__(self, counter: RedisCounter | SqliteCounter) -> None:
        self.counter = counter
        self._resting_until = 0.0
        self._lock = threading.Lock()

    def hit(self, key: str, *, window: int, ttl: int) -> int | None:
        """The window's count for ``key`` with this request; None when it could not be counted."""
        if time.monotonic() < self._resting_until:
            return None
        try:
            return self.counter.hit(key, window=window, ttl=ttl)
        except StoreUnavailable as exc:
            with self._lock:
                first = time.monotonic() >= self._resting_until
                self._resting_until = time.monotonic() + STORE_RETRY_SECONDS
            if first:
                logger.warning(
                    "API rate limits are off for %ss: the %s did not answer (%s); "
                    "requests pass uncounted meanwhile",
                    STORE_RETRY_SECONDS,
                    self.counter.where,
                    exc,
                )
            return None


@lru_cache(maxsize=4)
def _limiter(redis_url: str | None, sqlite_path: Path) -> Limiter:
    return Limiter(RedisCounter(redis_url) if redis_url else SqliteCounter(sqlite_path))


def limiter() -> Limiter:
    """The process's limiter for the configured store (made on first use, after any fork)."""
    return _limiter(settings.API_RATE_LIMIT_REDIS_URL, settings.API_RATE_LIMIT_SQLITE_PATH)


def clock() -> float:
    """Seconds since the epoch: windows are aligned to it, so every web process agrees on them."""
    return time.time()


def budget_of(request) -> tuple[str, int]:
    """The budget a request draws on, and its size: reads (GET, HEAD, OPTIONS) or writes (the rest)."""
    if request.method in SAFE_METHODS:
        return "read", settings.API_RATE_LIMIT_READS
    return "write", settings.API_RATE_LIMIT_WRITES


def refusal(request) -> str:
    """What a 429 says: whose budget, which one, and how large it is."""
    budget, limit = budget_of(request)
    return (
        f"{request.user.pk} is over its {budget} budget of {limit} requests per "
        f"{settings.API_RATE_LIMIT_WINDOW_SECONDS} seconds."
    )


class CallerRateLimit(BaseThrottle):
    """DRF's throttle hook, keyed by the authenticated participant or CSD (never by address: callers reach
    the hub through shared gateways, and one address may carry many of them)."""

    def allow_request(self, request, view) -> bool:
        self.budget, self.limit = budget_of(request)
        self.window_seconds = settings.API_RATE_LIMIT_WINDOW_SECONDS
        now = clock()
        window = math.floor(now / self.window_seconds)
        self.wait_seconds = (window + 1) * self.window_seconds - now
        who = request.user.pk  # a participant's BIC, a CSD's code
        key = f"{settings.API_RATE_LIMIT_NAMESPACE}:api-rate:{self.budget}:{request.user.rate_key}"
        count = limiter().hit(key, window=window, ttl=self.window_seconds + 1)
        if count is None or count <= self.limit:
            return True
        if count == self.limit + 1:  # once per window, not once per refused request
            logger.warning(
                "%s is over its %s budget of %s requests per %ss: refused with 429 for the next %ss",
                who,
                self.budget,
                self.limit,
                self.window_seconds,
                math.ceil(self.wait_seconds),
            )
        return False

    def wait(self) -> float:
        # Retry-After is whole seconds; DRF rounds up, so a client never comes back inside the window
        return self.wait_seconds
