"""How the hub's long-running processes (Celery workers, web workers) tune the Python runtime.

A settlement batch makes tens of thousands of short-lived objects (rows, models, message trees), and with
CPython's default thresholds the cyclic garbage collector ran a full pass many times per batch, each one
walking every object the process had loaded at start (Django, the schemas, the registry): 14% of a worker's
CPU in a 20,000-transfer run. Objects loaded at start live as long as the process, so they are frozen out
of the collector's sight, and the youngest generation is collected after more allocations. Memory freed by
reference counting (nearly all of it) is unaffected; only cycles wait a little longer.
"""

import gc

YOUNG_GENERATION_THRESHOLD = 50_000  # CPython's default is 700
OLDER_GENERATION_THRESHOLDS = (20, 10)


def collector_tune() -> None:
    """Call once a process has loaded what it keeps (after a fork, in the child)."""
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *OLDER_GENERATION_THRESHOLDS)
