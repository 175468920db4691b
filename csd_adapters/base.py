"""The narrow interface between the hub and one CSD's core system.

The hub moves securities inside a CSD only through a ``CsdAdapter``: it prepares (reserves), commits or
aborts a **leg**, reads statements of holdings and transactions, asks the CSD to endorse a ledger block
header, and checks the CSD's health. Everything that crosses the interface is a frozen dataclass; every
failure is an ``AdapterError`` saying whether it is ``permanent`` (do not retry: the CSD refused) or
transient (retry later: the CSD could not be reached or did not answer in time), with the ISO reason code
the CSD gave where there is one.

Each of prepare, commit and abort is idempotent on the leg id: calling it again, for instance after a
lost reply, returns the outcome of the first call and changes nothing.
"""

from __future__ import annotations

import abc
import base64
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from enum import StrEnum

from iso20022.frozen import frozen

# ------------------------------------------------------------------------------------------- values

_SWIFT_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.,()'+:?\-]{0,15}$")
REFERENCE_LENGTH = 16


@functools.lru_cache(maxsize=16384)
def leg_reference(leg_id: str) -> str:
    """The reference a leg travels under on the wire (MX ``TxId``, MT ``:20C::SEME//``).

    Both standards must carry it, and MT allows 16 characters of the SWIFT character set: a leg id that
    already fits is used as it is; any other (a UUID, say) becomes ``L`` and 15 characters of the base32
    SHA-256 of the id. The mapping is deterministic, so a replay carries the same reference, and the hub
    finds a leg on a statement of transactions by this reference.
    """
    if _SWIFT_REFERENCE.match(leg_id) and "//" not in leg_id and not leg_id.endswith("/"):
        return leg_id
    digest = base64.b32encode(hashlib.sha256(leg_id.encode()).digest()).decode()
    return "L" + digest[: REFERENCE_LENGTH - 1]


@frozen
class Leg:
    """One posting inside one CSD: move ``quantity`` of ``isin`` from ``debit_account`` to
    ``credit_account`` at ``csd``.

    ``leg_id`` is the hub's id and the idempotency key of every operation on the leg;
    ``transfer_reference`` names the cross-CSD transfer the leg belongs to. ``face_amount`` is true for
    securities counted in face amount (bonds) rather than units.
    """

    leg_id: str
    csd: str
    isin: str
    quantity: Decimal
    debit_account: str
    credit_account: str
    intended_settlement_date: dt.date
    transfer_reference: str
    face_amount: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.quantity, Decimal) or self.quantity <= 0:
            raise ValueError(f"a leg moves a positive Decimal quantity, not {self.quantity!r}")
        if self.debit_account == self.credit_account:
            raise ValueError("a leg moves securities between two different accounts")

    @property
    def reference(self) -> str:
        return leg_reference(self.leg_id)


class LegState(StrEnum):
    PREPARED = "PREPARED"
    COMMITTED = "COMMITTED"
    ABORTED = "ABORTED"


@frozen
class LegOutcome:
    """What the CSD did with a leg. ``csd_reference`` is the CSD's own id for the operation (its account
    servicer transaction id): a replay returns the same one. ``replayed`` is true when the call is known to
    have repeated an operation already done; the messages carry no such flag, so adapters that speak to a
    CSD over MX or MT always say false, and only the in-process adapter reports it."""

    leg_id: str
    state: LegState
    csd_reference: str | None = None
    settlement_date: dt.date | None = None
    replayed: bool = False


@frozen
class LegResult:
    """One leg's answer within a batch: its ``outcome``, or the ``error`` the CSD refused it with."""

    leg_id: str
    outcome: LegOutcome | None = None
    error: AdapterError | None = None

    def __post_init__(self) -> None:
        if (self.outcome is None) == (self.error is None):
            raise ValueError("a leg's result is an outcome or an error, exactly one of them")


@frozen
class Position:
    """One security on one account: ``available`` plus ``blocked`` (reserved for legs) is ``total``.
    ``face_amount`` is true when the CSD states it in face amount (``FAMT``) rather than in units."""

    isin: str
    available: Decimal
    blocked: Decimal
    face_amount: bool = False

    @property
    def total(self) -> Decimal:
        return self.available + self.blocked


@frozen
class Holdings:
    """Statement of holdings of one account at the close of ``as_of``."""

    account: str
    as_of: dt.date
    positions: tuple[Position, ...]

    def position(self, isin: str) -> Position:
        for position in self.positions:
            if position.isin == isin:
                return position
        return Position(isin=isin, available=Decimal(0), blocked=Decimal(0))


@frozen
class Movement:
    """One settled posting on a statement of transactions, seen from the statement's account.

    ``reference`` is the leg's wire reference (``leg_reference``); ``quantity`` is positive and
    ``credit`` says its direction; ``face_amount`` is true when it is a face amount (``FAMT``), not units.
    """

    reference: str
    isin: str
    quantity: Decimal
    credit: bool
    settlement_date: dt.date
    csd_reference: str | None = None
    face_amount: bool = False


@frozen
class Transactions:
    """Statement of settled transactions of one account from ``since`` to ``until`` (both included)."""

    account: str
    since: dt.date
    until: dt.date
    movements: tuple[Movement, ...]


@frozen
class Endorsement:
    """A CSD's Ed25519 signature over a ledger block header, and the id of the key that made it
    (the first 16 hex digits of the SHA-256 of the raw public key)."""

    signature: bytes
    key_id: str


@frozen
class Health:
    ok: bool
    detail: str
    latency_ms: float


def key_id_for(public_key: bytes) -> str:
    """The key id of an Ed25519 public key (32 raw bytes)."""
    return hashlib.sha256(public_key).hexdigest()[:16]


# ------------------------------------------------------------------------------------------- errors


class AdapterError(Exception):
    """Base of every error an adapter raises.

    ``permanent`` errors must not be retried as they are (the CSD refused); transient ones may be.
    ``reason_code`` is the ISO reason code the CSD gave (``LACK``, ``SAFE`` ...) or ``None``.
    """

    permanent: bool = True
    reason_code: str | None = None

    def __init__(self, message: str = "", *, permanent: bool | None = None, reason_code: str | None = None):
        super().__init__(message or type(self).__doc__ or type(self).__name__)
        if permanent is not None:
            self.permanent = permanent
        if reason_code is not None:
            self.reason_code = reason_code


class InsufficientSecurities(AdapterError):
    """The debit account does not hold enough available securities (lack of securities)."""

    reason_code = "LACK"


class UnknownAccount(AdapterError):
    """The CSD keeps no such safekeeping account."""

    reason_code = "SAFE"


class BlockedAccount(AdapterError):
    """The account is blocked: nothing may be reserved on it (so nothing can be delivered from it)."""

    reason_code = "BLOC"


class UnknownSecurity(AdapterError):
    """The CSD holds no such security."""

    reason_code = "DSEC"


class LegConflict(AdapterError):
    """The leg id was already used for a different movement."""

    reason_code = "REFE"


class LegNotPrepared(AdapterError):
    """A commit for a leg that was never prepared."""

    reason_code = "NPRP"


class LegAborted(AdapterError):
    """The leg was aborted: it can be neither prepared again nor committed."""

    reason_code = "ABRT"


class LegCommitted(AdapterError):
    """The leg was committed: it can no longer be aborted."""

    reason_code = "CMTD"


class MessageRejected(AdapterError):
    """The CSD rejected the message for a reason no narrower error covers."""


class ProtocolError(AdapterError):
    """The CSD answered with something that is not a valid reply to the request."""


class RequestNotProcessed(ProtocolError):
    """The request was turned away whole, so nothing in it was applied: the CSD answered it with an HTTP
    client error (400 it cannot read it, 401 or 403 not allowed, 404 or 405 no such endpoint, 413 too large,
    415 ...; not 408 or 429, which are transient, nor 422, a refusal for a rule), or it could not be sent at
    all (a base URL that is none, a redirect loop). ``status`` is the HTTP status, if there was an answer.
    Sending it again as it is gets the same answer."""

    def __init__(self, message: str = "", *, status: int | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.status = status


class LegNotExpressible(AdapterError):
    """The leg cannot be written in the CSD's message standard (an account number an MT field cannot
    carry, say): nothing was sent for it."""


class HeaderRefused(AdapterError):
    """The CSD refused to endorse the bytes it was sent (a permanent answer for those bytes)."""


class NotABlockHeader(HeaderRefused):
    """The bytes are not a block header of the hub's ledger in its canonical form (``csd_adapters.headers``)."""


class HeaderNotNamingCsd(HeaderRefused):
    """The block header does not name the CSD among its ``csds``: it endorses only blocks it is part of."""


class HeightEndorsedOtherwise(HeaderRefused):
    """The CSD has endorsed another header at this height: it never endorses two blocks of one height."""


class CsdUnavailable(AdapterError):
    """The CSD could not be reached or answered that it is unavailable; retry later."""

    permanent = False


class CsdTimeout(AdapterError):
    """The CSD did not answer in time; the operation may or may not have been applied: replay it."""

    permanent = False


class OutcomeUnknown(AdapterError):
    """The CSD's answer to an exchange cannot be read leg by leg (a reply about transactions never sent,
    a reply part no leg can be told to own, an HTTP server error other than the transient ones): it
    refused none of the legs, and may or may not have applied them: replay it."""

    permanent = False


REFUSALS: dict[str, type[AdapterError]] = {
    cls.reason_code: cls
    for cls in (
        InsufficientSecurities,
        UnknownAccount,
        BlockedAccount,
        UnknownSecurity,
        LegConflict,
        LegNotPrepared,
        LegAborted,
        LegCommitted,
    )
}
"""Refusal errors by the reason code they travel under, for adapters that read a CSD's status."""


def refusal_for(reason_code: str | None, narrative: str | None = None) -> AdapterError:
    """The error for a CSD's refusal with ``reason_code``: a named rule where one exists."""
    cls = REFUSALS.get(reason_code or "", MessageRejected)
    return cls(narrative or "", reason_code=reason_code)


# ------------------------------------------------------------------------------------------ interface


class CsdAdapter(abc.ABC):
    """What the hub needs from a CSD. One instance per CSD; safe to share between threads."""

    @abc.abstractmethod
    def prepare(self, leg: Leg) -> LegOutcome:
        """Reserve the leg's quantity on its debit account (available -> blocked)."""

    @abc.abstractmethod
    def commit(self, leg: Leg) -> LegOutcome:
        """Post the leg from the blocked sub-balance of the debit account to the credit account."""

    @abc.abstractmethod
    def abort(self, leg: Leg) -> LegOutcome:
        """Release the leg's reservation (blocked -> available); a leg never prepared is simply closed,
        so a late prepare of it is refused."""

    # Batches: many legs at this CSD in one exchange where the CSD takes bulk files. The answer holds one
    # ``LegResult`` per leg, in the order given, each refusal on its own leg; a batch is as idempotent as
    # its legs, so a batch whose reply was lost is simply sent again. When the CSD cannot be reached at
    # all, the transient error is raised for the whole batch. These defaults send one leg at a time.

    def prepare_many(self, legs: Sequence[Leg]) -> list[LegResult]:
        return self._one_by_one(self.prepare, legs)

    def commit_many(self, legs: Sequence[Leg]) -> list[LegResult]:
        return self._one_by_one(self.commit, legs)

    def abort_many(self, legs: Sequence[Leg]) -> list[LegResult]:
        return self._one_by_one(self.abort, legs)

    @staticmethod
    def _one_by_one(operation: Callable[[Leg], LegOutcome], legs: Sequence[Leg]) -> list[LegResult]:
        results = []
        for leg in legs:
            try:
                results.append(LegResult(leg_id=leg.leg_id, outcome=operation(leg)))
            except AdapterError as exc:
                if not exc.permanent:
                    raise
                results.append(LegResult(leg_id=leg.leg_id, error=exc))
        return results

    @abc.abstractmethod
    def holdings(self, *, account: str, as_of: dt.date) -> Holdings: ...

    @abc.abstractmethod
    def transactions(self, *, account: str, since: dt.date, until: dt.date) -> Transactions: ...

    @abc.abstractmethod
    def endorse(self, header: bytes) -> Endorsement:
        """The CSD's signature over a ledger block header (its canonical bytes)."""

    @abc.abstractmethod
    def health(self) -> Health: ...
