"""Serving a reference CSD with gunicorn (threaded worker), started from Python rather than a config file.

One worker process with several threads: the ledger's database makes concurrent requests safe, and the
fault switch (``/admin/faults``) lives in that one process, so it applies to every request.
"""

from __future__ import annotations

from collections.abc import Callable

from gunicorn.app.base import BaseApplication

from csd_adapters.reference_csd.service import ReferenceCsd


class ReferenceCsdServer(BaseApplication):
    def __init__(self, build: Callable[[], ReferenceCsd], *, host: str, port: int, threads: int = 8) -> None:
        self._build = build
        self._options = {
            "bind": f"{host}:{port}",
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
        return self._build()  # in the worker, after the fork: the database pool is the worker's own
