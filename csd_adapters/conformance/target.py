"""What the conformance suite needs to know about the CSD under test.

``ConformanceTarget`` bundles the adapter under test with a ``CsdControl``: the few things a test must do
to the CSD directly rather than through the adapter (open and fund accounts, block one, inject a fault,
read the CSD's public key). ``ReferenceCsdControl`` does them for the reference CSD over its admin API.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import requests

from csd_adapters.base import CsdAdapter


class CsdControl(Protocol):
    def open_account(self, number: str, kind: str = "OWN") -> None: ...

    def fund(self, *, account: str, isin: str, quantity: Decimal, reference: str) -> None:
        """Credit ``quantity`` of ``isin`` to ``account`` (from the CSD's issuance account)."""

    def block(self, account: str) -> None: ...

    def inject(self, fault: str, *, count: int | None = 1, delay: float = 2.0) -> None:
        """Make the CSD show ``fault`` (``down``, ``slow``, ``drop_reply``, ``reply_twice``) for the next
        ``count`` requests; raise ``NotImplementedError`` when the CSD cannot."""

    def clear_faults(self) -> None: ...

    def public_key(self) -> bytes:
        """The CSD's Ed25519 public key (32 raw bytes), as the hub has it registered."""


@dataclass(frozen=True, kw_only=True)
class ConformanceTarget:
    """The adapter under test, the control of its CSD, and how the adapter was configured.

    ``read_timeout`` is the adapter's read timeout in seconds (a ``slow`` fault waits longer than that);
    ``isin`` a security the CSD knows and ``unknown_isin`` a valid ISIN it does not; ``issuance_account``
    the contra account ``CsdControl.fund`` books from, short by what it issued.
    """

    name: str
    adapter: CsdAdapter
    control: CsdControl
    isin: str
    unknown_isin: str
    read_timeout: float
    issuance_account: str = "ISSUANCE"


class ReferenceCsdControl:
    """``CsdControl`` for a reference CSD, over its ``/admin`` endpoints."""

    def __init__(self, base_url: str, *, admin_token: str | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"X-Admin-Token": admin_token} if admin_token else {}
        self.timeout = timeout

    def _post(self, path: str, payload: dict) -> dict:
        response = requests.post(
            self.base_url + path, json=payload, headers=self.headers, timeout=self.timeout
        )
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text}")
        return response.json()

    def open_account(self, number: str, kind: str = "OWN") -> None:
        self._post("/admin/accounts", {"number": number, "kind": kind})

    def fund(self, *, account: str, isin: str, quantity: Decimal, reference: str) -> None:
        self._post(
            "/admin/issue",
            {"account": account, "isin": isin, "quantity": str(quantity), "reference": reference},
        )

    def block(self, account: str) -> None:
        self._post("/admin/block", {"number": account, "blocked": True})

    def inject(self, fault: str, *, count: int | None = 1, delay: float = 2.0) -> None:
        self._post("/admin/faults", {"mode": fault, "count": count, "delay": delay})

    def clear_faults(self) -> None:
        self._post("/admin/faults", {"mode": "none"})

    def public_key(self) -> bytes:
        response = requests.get(self.base_url + "/key", timeout=self.timeout)
        response.raise_for_status()
        return bytes.fromhex(response.json()["public_key"])

    def discrepancies(self) -> list[str]:
        response = requests.get(self.base_url + "/admin/check", headers=self.headers, timeout=self.timeout)
        response.raise_for_status()
        return response.json()["discrepancies"]
