"""The CSD adapter for a CSD row: the one way the hub reaches a CSD's own ledger.

The row names the adapter (``CSD.adapter``, a name in ``csd_adapters.registry``) and configures it
(``CSD.adapter_config``: ``base_url``, and optionally ``connect_timeout`` and ``read_timeout`` in
seconds); the profile (BIC, standard, time zone, cut-off) comes from the row itself. Adapters are safe
to share between threads, so each process keeps one per CSD, rebuilt when the row's settings change.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from csd_adapters.base import CsdAdapter
from csd_adapters.profiles import CsdProfile, Standard
from csd_adapters.registry import adapter_for
from hub.registry.models import CSD
from hub.registry.validators import adapter_config_problems

DEFAULT_TIMEOUTS = {"connect_timeout": 2.0, "read_timeout": 10.0}

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
CALL_THREADS = 16  # the most CSD calls in flight at once from one process

_cache: dict[str, tuple[str, CsdAdapter]] = {}
_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def csd_profile(csd: CSD) -> CsdProfile:
    return CsdProfile(
        code=csd.code,
        bic=csd.bic,
        standard=Standard(csd.message_standard),
        timezone=csd.timezone,
        cutoff=csd.settlement_cutoff,
        is_demo=csd.is_demo,
    )


def _settings_key(csd: CSD) -> str:
    return json.dumps(
        [
            csd.adapter,
            csd.adapter_config,
            csd.bic,
            csd.message_standard,
            csd.timezone,
            str(csd.settlement_cutoff),
            settings.HUB_BIC,
        ],
        sort_keys=True,
        default=str,
    )


def _build(csd: CSD) -> CsdAdapter:
    config = csd.adapter_config or {}
    problems = adapter_config_problems(config)
    if problems:  # a row written around its validation (an update, a data migration)
        raise ImproperlyConfigured(f"CSD {csd.code}: adapter_config: {'; '.join(problems)}")
    if not config.get("base_url"):
        raise ImproperlyConfigured(
            f"CSD {csd.code} has no adapter_config base_url; for the demo run "
            "`manage.py reference_csds export`"
        )
    timeouts = {name: float(config.get(name, default)) for name, default in DEFAULT_TIMEOUTS.items()}
    try:
        return adapter_for(
            csd.adapter,
            profile=csd_profile(csd),
            base_url=config["base_url"],
            hub_bic=settings.HUB_BIC,
            **timeouts,
        )
    except KeyError as exc:
        raise ImproperlyConfigured(f"CSD {csd.code}: {exc.args[0]}") from None


def csd_adapter(csd: CSD) -> CsdAdapter:
    """The adapter that reaches ``csd``, shared by every caller in this process while the row's adapter
    settings stay the same."""
    key = _settings_key(csd)
    with _lock:
        cached = _cache.get(csd.code)
        if cached is not None and cached[0] == key:
            return cached[1]
        adapter = _build(csd)
        _cache[csd.code] = (key, adapter)
        return adapter


def csd_calls_parallel(calls: dict[K, Callable[[], T]]) -> dict[K, Future[T]]:
    """Run the calls (network I/O, one CSD each) at once on this process's CSD threads, and return once
    every one has ended: each one's future, holding its result or its error. None is left running when
    the caller goes on, even when it stops at the first error it reads.

    The threads live as long as the process, so what each keeps for itself (a compiled schema, a pooled
    connection) is built once, not on every batch; a forked child makes its own."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(max_workers=CALL_THREADS, thread_name_prefix="csd-call"))
        pool = _pool[1]
    futures = {key: pool.submit(call) for key, call in calls.items()}
    wait(futures.values())
    return futures
