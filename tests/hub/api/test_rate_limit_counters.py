"""The rate limits' counters: every request counted once however many arrive together, in Redis and in the
embedded default's SQLite file; and a store that fails lets the API answer rather than take it down."""

import logging
import os
import socket
import threading
import uuid

import pytest
import redis

from hub.api import ratelimit
from hub.api.ratelimit import Limiter, RedisCounter, SqliteCounter, StoreUnavailable

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
THREADS, HITS_EACH = 16, 25


def hit_together(counter, key: str) -> list[int]:
    """THREADS threads, released at once, each counting HITS_EACH requests under ``key`` in one window."""
    counts: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def one() -> None:
        start.wait()
        mine = [counter.hit(key, window=7, ttl=60) for _ in range(HITS_EACH)]
        with lock:
            counts.extend(mine)

    threads = [threading.Thread(target=one) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def test_concurrent_requests_are_counted_exactly_in_redis():
    counter = RedisCounter(REDIS_URL)
    key = f"test-rate-{uuid.uuid4().hex}"
    counts = hit_together(counter, key)
    # each request saw a count of its own: none was lost, none counted twice
    assert sorted(counts) == list(range(1, THREADS * HITS_EACH + 1))
    client = redis.Redis.from_url(REDIS_URL)
    try:
        # and the window's key goes when the window is over: no count outlives it
        assert 0 < client.ttl(f"{key}:7") <= 60
    finally:
        client.delete(f"{key}:7")


def test_concurrent_requests_are_counted_exactly_in_the_embedded_defaults_sqlite_file(tmp_path):
    # exactness is the point here, not the store's timeout: on a loaded machine 400 counts queued on the
    # write lock can wait past half a second, which in service lets a request pass uncounted
    counter = SqliteCounter(tmp_path / "rates.sqlite3", timeout=30)
    counts = hit_together(counter, "DEMARUMM")  # a connection per thread: the file's own locking counts
    assert sorted(counts) == list(range(1, THREADS * HITS_EACH + 1))


@pytest.mark.parametrize(
    "make", [lambda tmp: RedisCounter(REDIS_URL), lambda tmp: SqliteCounter(tmp / "r.sqlite3")]
)
def test_a_new_window_counts_from_one_and_a_late_clock_does_not_reset_the_current_one(make, tmp_path):
    counter = make(tmp_path)
    key = f"test-rate-{uuid.uuid4().hex}"
    assert [counter.hit(key, window=10, ttl=5) for _ in range(3)] == [1, 2, 3]
    assert counter.hit(key, window=11, ttl=5) == 1
    # a process whose clock is a little behind still counts in the window the others are in (Redis keeps
    # the older window's count apart, which it then lets expire)
    assert counter.hit(key, window=11, ttl=5) == 2
    late = counter.hit(key, window=10, ttl=5)
    assert late == (4 if isinstance(counter, RedisCounter) else 3)
    assert counter.hit(key, window=11, ttl=5) == (3 if isinstance(counter, RedisCounter) else 4)


def test_a_redis_that_is_down_or_never_answers_raises_store_unavailable_without_waiting_on_it():
    with pytest.raises(StoreUnavailable):
        RedisCounter("redis://127.0.0.1:1/0").hit("k", window=1, ttl=2)
    # a Redis that takes the connection and never replies: given up after the store's timeout
    with socket.create_server(("127.0.0.1", 0), backlog=8) as server:
        host, port = server.getsockname()
        with pytest.raises(StoreUnavailable):
            RedisCounter(f"redis://{host}:{port}/0").hit("k", window=1, ttl=2)


def test_a_sqlite_file_that_cannot_be_written_raises_store_unavailable(tmp_path):
    (tmp_path / "not-a-folder").write_text("")
    with pytest.raises(StoreUnavailable):
        SqliteCounter(tmp_path / "not-a-folder" / "rates.sqlite3").hit("k", window=1, ttl=2)


class Failing:
    where = "test store"

    def __init__(self) -> None:
        self.calls = 0

    def hit(self, key: str, *, window: int, ttl: int) -> int:
        self.calls += 1
        raise StoreUnavailable("connection refused")


def test_a_failed_store_lets_requests_pass_warns_once_and_is_left_alone_for_a_while(monkeypatch, caplog):
    store = Failing()
    limiter = Limiter(store)
    moment = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: moment[0])
    with caplog.at_level(logging.WARNING, logger="hub.api.ratelimit"):
        assert [limiter.hit("k", window=1, ttl=2) for _ in range(3)] == [None, None, None]
        assert store.calls == 1
        moment[0] += ratelimit.STORE_RETRY_SECONDS
        assert limiter.hit("k", window=1, ttl=2) is None
    assert store.calls == 2
    warnings = [r.getMessage() for r in caplog.records]
    assert (
        warnings
        == [
            "API rate limits are off for 5s: the test store did not answer "
            "(connection refused); requests pass uncounted meanwhile"
        ]
        * 2
    )


@pytest.mark.parametrize("store", ["redis", "sqlite"])
def test_the_api_answers_while_its_rate_limit_store_is_down(store, limits, nsd_broker, tmp_path, caplog):
    limits.API_RATE_LIMIT_READS = 1
    if store == "redis":
        limits.API_RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"
    else:
        (tmp_path / "not-a-folder").write_text("")
        limits.API_RATE_LIMIT_REDIS_URL = None
        limits.API_RATE_LIMIT_SQLITE_PATH = tmp_path / "not-a-folder" / "rates.sqlite3"
    with caplog.at_level(logging.WARNING, logger="hub.api.ratelimit"):
        assert [nsd_broker.get("/api/v1/accounts/").status_code for _ in range(3)] == [200, 200, 200]
    assert len([r for r in caplog.records if "rate limits are off" in r.getMessage()]) == 1
