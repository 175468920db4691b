"""Faults the reference CSD can be told to show, so tests can prove that adapters and the hub survive
them. Switched at run time, in process (``Faults.set``) or over HTTP (``POST /admin/faults``).

- ``down``: every request except ``/admin/*`` is answered ``503 Service Unavailable``; nothing applied.
- ``slow``: each request waits ``delay`` seconds, then is handled normally (a client with a shorter read
  timeout gives up although the CSD applies the operation).
- ``drop_reply``: the operation is applied, then the connection is closed without a reply.
- ``reply_twice``: the message is processed twice (as a duplicated delivery would be) and both replies
  are sent back, as the two parts of one ``multipart/mixed`` body.

``count`` limits a fault to that many requests (then it clears itself); ``None`` keeps it until reset.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum


class Fault(StrEnum):
    NONE = "none"
    DOWN = "down"
    SLOW = "slow"
    DROP_REPLY = "drop_reply"
    REPLY_TWICE = "reply_twice"


@dataclass(frozen=True, slots=True)
class ActiveFault:
    fault: Fault
    delay: float


class Faults:
    """The current fault, shared by the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault = Fault.NONE
        self._remaining: int | None = None
        self._delay = 0.0

    def set(self, fault: Fault | str, *, count: int | None = None, delay: float = 2.0) -> None:
        fault = Fault(fault)
        if count is not None and count < 1:
            raise ValueError("count must be at least 1, or None for until reset")
        with self._lock:
            self._fault, self._remaining, self._delay = fault, count, float(delay)

    def reset(self) -> None:
        self.set(Fault.NONE)

    def take(self) -> ActiveFault:
        """The fault to apply to the request arriving now (consuming one of its ``count``)."""
        with self._lock:
            fault = self._fault
            if fault is not Fault.NONE and self._remaining is not None:
                self._remaining -= 1
                if self._remaining == 0:
                    self._fault, self._remaining = Fault.NONE, None
            return ActiveFault(fault, self._delay)

    def describe(self) -> dict:
        with self._lock:
            return {"mode": self._fault.value, "count": self._remaining, "delay": self._delay}
