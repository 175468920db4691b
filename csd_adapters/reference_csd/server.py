"""Serving a reference CSD with gunicorn (threaded worker), started from Python rather than a config file.

One worker process with several threads: the ledger's database makes concurrent requests safe, and the
fault switch (``/admin/faults``) lives in that one process, so it applies to every request.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from gunicorn.app.base import BaseApplication

from csd_adapters.reference_csd.service import ReferenceCsd


class ReferenceCsdServer(BaseApplication):
    def __init__(self, build: Callable[[], ReferenceCsd], *, host: str, port: int, threads: int = 8) -> None:
        self._build = build
        self._options = {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",  # an IPv6 address in brackets
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            "timeout": 120,
            "graceful_timeout": 5,
            "keepalive": 5,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> ReferenceCsd:
        service = self._build()  # in the worker, after the fork: the database pool is the worker's own
        # what the service loaded lives as long as it does: out of the cyclic collector's sight, which
        # then runs after more allocations than CPython's default 700 (each request makes thousands)
        gc.freeze()
        gc.set_threshold(50_000, 20, 10)
        return service
