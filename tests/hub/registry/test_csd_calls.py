"""Calls to several CSDs run at once, on threads the process keeps: what a thread builds for itself (a
compiled schema, a pooled connection) is built once, not on every batch."""

import threading

from hub.registry.adapters import csd_calls_parallel


def test_calls_to_several_csds_run_at_once_and_each_answers_its_own_key():
    arrived = threading.Barrier(3, timeout=10)  # only calls running together all pass it

    def call(code: str):
        return lambda: (arrived.wait(), code)[1]

    futures = csd_calls_parallel({code: call(code) for code in ("NSD", "STRATE", "KACD")})
    assert {code: future.result(timeout=10) for code, future in futures.items()} == {
        "NSD": "NSD",
        "STRATE": "STRATE",
        "KACD": "KACD",
    }


def test_the_threads_outlive_a_batch_so_the_next_batch_reuses_them():
    def threads() -> set[threading.Thread]:
        futures = csd_calls_parallel({n: threading.current_thread for n in range(4)})
        return {future.result(timeout=10) for future in futures.values()}

    seen = threads()
    assert all(thread.name.startswith("csd-call") for thread in seen)
    for _ in range(5):
        seen |= threads()
    # a new pool per batch would show four new threads every time: 24 in all
    assert len(seen) <= 16 and all(thread.is_alive() for thread in seen)


def test_every_call_has_ended_when_the_calls_return_even_if_one_failed_at_once():
    finished = threading.Event()

    def refuses():
        raise ConnectionError("CSD down")

    def slow():
        finished.wait(0.3)  # still running when the other has long failed
        finished.set()
        return "posted"

    futures = csd_calls_parallel({"NSD": refuses, "STRATE": slow})
    assert all(future.done() for future in futures.values()) and finished.is_set()
    assert isinstance(futures["NSD"].exception(), ConnectionError) and futures["STRATE"].result() == "posted"
