"""The reference CSD's book-entry securities ledger.

Accounts hold securities on two sub-balances: available, and blocked (the sum of the account's open
reservations). Three operations serve the hub's legs, each idempotent on the leg's reference:

- ``reserve``: available -> blocked on the debit account (semt.013 AVAI -> BLOK, MT524).
- ``deliver``: a posting from the debit account's blocked sub-balance to the credit account's available
  one, consuming the reservation (sese.023, MT542).
- ``release``: blocked -> available (semt.013 BLOK -> AVAI, MT524); for a leg never reserved it leaves a
  closed reservation behind, so a late ``reserve`` of that leg is refused.

A replay returns the original outcome with ``replayed=True``; a refusal (lack of securities, blocked
account ...) changes nothing and is not remembered, so the same leg may be tried again later (the hub
recycles lack of securities until the cut-off).

Concurrency: a reservation is one conditional ``UPDATE ... WHERE available >= quantity``; the row lock it
takes serialises competing reservations of one position on PostgreSQL, and SQLite runs every write
transaction under ``BEGIN IMMEDIATE``. The CHECK constraints of ``schema`` back this up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from nacl.signing import SigningKey
from sqlalchemy.dialects import postgresql, sqlite

from csd_adapters import headers
from csd_adapters.base import (
    AdapterError,
    BlockedAccount,
    HeaderNotNamingCsd,
    HeightEndorsedOtherwise,
    InsufficientSecurities,
    LegAborted,
    LegCommitted,
    LegConflict,
    LegNotPrepared,
    LegOutcome,
    LegState,
    MessageRejected,
    Movement,
    Position,
    UnknownAccount,
    UnknownSecurity,
    key_id_for,
)
from csd_adapters.reference_csd import schema as t
from csd_adapters.reference_csd.prepared import Prepared
from csd_adapters.reference_csd.schema import CONTRA_KINDS

ZERO = Decimal(0)
T = TypeVar("T")
# quantities are kept as whole millionths in a 64-bit integer
LARGEST_QUANTITY = Decimal(2**63 - 1) / t.SCALE


def _keepable(quantity: Decimal) -> None:
    """Refuse (DQUA) a quantity this ledger cannot keep, before anything is written: larger than its
    64-bit millionths hold, or finer than a millionth."""
    if not 0 < quantity <= LARGEST_QUANTITY or (quantity * t.SCALE) % 1:
        raise MessageRejected(
            f"quantity {quantity} is outside what this CSD keeps (above 0, at most {LARGEST_QUANTITY:f}, "
            "in millionths)",
            reason_code="DQUA",
        )


def database_url(url: str) -> str:
    """A SQLAlchemy URL for ``sqlite:///path`` or ``postgres://...`` (psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> sa.Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # transactions are begun explicitly below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA busy_timeout = 30000")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_size=8, max_overflow=16, pool_pre_ping=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    number: str
    kind: str
    blocked: bool = False

    @property
    def contra(self) -> bool:
        return self.kind in CONTRA_KINDS


@dataclass(frozen=True, slots=True, kw_only=True)
class Posting:
    id: int
    reference: str
    kind: str
    isin: str
    debit_account: str
    credit_account: str
    quantity: Decimal
    from_blocked: bool
    settlement_date: dt.date


class SeedError(ValueError):
    """A seed file that cannot be booked (unbalanced, unknown kind, a different seed already applied)."""


class SavepointsNeeded(Exception):
    """A database error inside an operation of a batch without savepoints: the operation may have
    written part of its work, so the batch must be rolled back (and run with savepoints)."""


class Ledger:
    """One CSD's ledger in its own database (``url``: ``sqlite:///file`` or ``postgres://...``)."""

    def __init__(
        self,
        url: str,
        *,
        timezone: str = "UTC",
        clock: Callable[[], dt.datetime] | None = None,
        signing_seed: bytes | None = None,
    ):
        """``signing_seed``: the 32-byte Ed25519 seed a new database starts with (to keep a CSD's key when
        its books start afresh); a database that has a key keeps its own."""
        self.url = url
        self.engine = make_engine(url)
        self.zone = ZoneInfo(timezone)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        t.metadata.create_all(self.engine)
        self._insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        self._sql = Prepared(self._insert, self.engine.dialect)
        self.signing_key = self._signing_key(signing_seed)
        self._batch = threading.local()

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------------------------- batches

    @contextlib.contextmanager
    def batch(self, *, savepoints: bool = True) -> Iterator[None]:
        """Run the leg operations this thread calls inside one database transaction, each under its own
        savepoint: each stays atomic on its own (a refusal undoes only its own work), and the whole batch
        is committed once. A failure that is not a refusal (the database gave up) rolls the whole batch
        back and is raised.

        ``savepoints=False``: no savepoint per operation. Each operation checks before it writes, so a
        refusal has written nothing and needs none; a database error, which could leave an operation's
        first writes behind, is raised as ``SavepointsNeeded`` instead (``in_batch`` then runs the
        batch again with savepoints)."""
        if getattr(self._batch, "connection", None) is not None:
            raise RuntimeError("a ledger batch is already open in this thread")
        with self.engine.begin() as c:
            self._batch.connection, self._batch.savepoints = c, savepoints
            try:
                yield
            finally:
                self._batch.connection = None

    def in_batch(self, work: Callable[[], T], *, attempts: int = 3) -> T:
        """``work()`` inside one ``batch``, run again from the start when the database gave the whole
        transaction up (a deadlock between two batches, a serialization failure, a busy database): the
        rollback undid all of it, so running it again is safe.

        The first run takes no savepoints (the usual case: every operation applies or is refused before
        it writes); one that meets a database error inside an operation is run again with a savepoint
        per operation, where that error has the effect it would have alone."""
        savepoints, attempt = False, 1
        while True:
            try:
                with self.batch(savepoints=savepoints):
                    return work()
            except SavepointsNeeded:
                savepoints = True  # once: a batch with savepoints does not raise it
            except sa.exc.DBAPIError as exc:
                if attempt == attempts or not _worth_retrying(exc):
                    raise
                attempt += 1

    @contextlib.contextmanager
    def _unit(self) -> Iterator[sa.Connection]:
        """One leg operation's transaction: its own, or a savepoint inside the thread's open batch (none in
        a batch without savepoints, where a database error becomes ``SavepointsNeeded``)."""
        c = getattr(self._batch, "connection", None)
        if c is None:
            with self.engine.begin() as c:
                yield c
        elif self._batch.savepoints:
            with c.begin_nested():
                yield c
        else:
            try:
                yield c
            except sa.exc.DBAPIError as exc:
                if _worth_retrying(exc):
                    raise
                raise SavepointsNeeded(str(exc)) from exc

    # ------------------------------------------------------------------------------------ time, keys

    def now(self) -> dt.datetime:
        return self._clock()

    def today(self) -> dt.date:
        return self.now().astimezone(self.zone).date()

    def _signing_key(self, seed: bytes | None) -> SigningKey:
        offered = SigningKey(seed) if seed is not None else SigningKey.generate()
        with self.engine.begin() as c:
            c.execute(
                self._insert(t.meta)
                .values(key="signing_key", value=offered.encode().hex())
                .on_conflict_do_nothing()
            )
            seed = c.execute(sa.select(t.meta.c.value).where(t.meta.c.key == "signing_key")).scalar_one()
        return SigningKey(bytes.fromhex(seed))

    @property
    def public_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    @property
    def key_id(self) -> str:
        return key_id_for(self.public_key)

    def sign(self, data: bytes) -> bytes:
        return self.signing_key.sign(data).signature

    def endorse(self, header: bytes, *, csd: str) -> bytes:
        """The signature of a block header of the hub's ledger that names ``csd`` (this CSD), once per
        height: the header hash is kept, and another header at that height is refused
        (HeightEndorsedOtherwise); the same header again is signed again. NotABlockHeader and
        HeaderNotNamingCsd for bytes that are no such header."""
        fields = headers.read_header(header)
        if csd not in fields["csds"]:
            raise HeaderNotNamingCsd(f"block {fields['height']} names {', '.join(fields['csds'])}, not {csd}")
        digest = headers.header_hash(header)
        with self.engine.begin() as c:
            c.execute(
                self._insert(t.endorsements)
                .values(height=fields["height"], header_hash=digest, endorsed_at=self.now())
                .on_conflict_do_nothing()
            )
            endorsed = c.execute(
                sa.select(t.endorsements.c.header_hash).where(t.endorsements.c.height == fields["height"])
            ).scalar_one()
        if endorsed != digest:
            raise HeightEndorsedOtherwise(
                f"{csd} endorsed block {endorsed} at height {fields['height']}, not {digest}"
            )
        return self.sign(header)

    def endorsements(self) -> dict:
        """What this CSD has endorsed: the highest height (None before any), how many heights, and how
        many endorsements its operator has released in all."""
        with self.engine.connect() as c:
            highest, heights = c.execute(
                sa.select(sa.func.max(t.endorsements.c.height), sa.func.count())
            ).one()
            released = c.execute(sa.select(sa.func.count()).select_from(t.endorsements_released)).scalar()
        return {"highest": highest, "heights": heights, "heights_released": released}

    def endorsements_release(self, *, from_height: int) -> dict:
        """The operator's decision to endorse the hub's blocks again at ``from_height`` and above, after the
        hub lost sealed blocks and sealed those heights again with other content: what this CSD endorsed
        there is moved to ``refcsd_endorsements_released`` (kept, with the time of the decision), and each
        of those heights may be endorsed once more, once."""
        if isinstance(from_height, bool) or not isinstance(from_height, int) or from_height < 1:
            raise ValueError(f"from_height must be a block height (1 or more), not {from_height!r}")
        released_at = self.now()
        with self.engine.begin() as c:
            rows = c.execute(
                t.endorsements.delete()
                .where(t.endorsements.c.height >= from_height)
                .returning(
                    t.endorsements.c.height, t.endorsements.c.header_hash, t.endorsements.c.endorsed_at
                )
            ).all()
            if rows:
                c.execute(
                    t.endorsements_released.insert(),
                    [{**r._asdict(), "released_at": released_at} for r in rows],
                )
        return {"from_height": from_height, "released": len(rows), **self.endorsements()}

    # -------------------------------------------------------------------------------- reference data

    def open_account(self, number: str, kind: str) -> None:
        if kind not in t.ACCOUNT_KINDS:
            raise SeedError(f"account kind {kind!r} is not one of {', '.join(sorted(t.ACCOUNT_KINDS))}")
        with self.engine.begin() as c:
            c.execute(
                self._insert(t.accounts)
                .values(number=number, kind=kind, contra=kind in CONTRA_KINDS, blocked=False)
                .on_conflict_do_nothing()
            )
            existing = c.execute(sa.select(t.accounts.c.kind).where(t.accounts.c.number == number)).scalar()
        if existing != kind:
            raise SeedError(f"account {number} exists already as {existing}, not {kind}")

    def block_account(self, number: str, blocked: bool = True) -> None:
        with self.engine.begin() as c:
            done = c.execute(
                t.accounts.update().where(t.accounts.c.number == number).values(blocked=blocked)
            ).rowcount
        if not done:
            raise UnknownAccount(f"no account {number}")

    def add_security(self, isin: str, *, face_amount: bool = False) -> None:
        with self.engine.begin() as c:
            c.execute(
                self._insert(t.securities).values(isin=isin, face_amount=face_amount).on_conflict_do_nothing()
            )

    def accounts(self) -> list[Account]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(t.accounts).order_by(t.accounts.c.number)).all()
        return [Account(number=r.number, kind=r.kind, blocked=r.blocked) for r in rows]

    def issue(
        self,
        *,
        reference: str,
        account: str,
        isin: str,
        quantity: Decimal,
        issuance: str = "ISSUANCE",
        kind: str = "ISSUE",
    ) -> Posting:
        """Book ``quantity`` of ``isin`` from a contra account (issuance, mirror) onto ``account``."""
        _keepable(quantity)
        with self.engine.begin() as c:
            existing = c.execute(sa.select(t.postings).where(t.postings.c.reference == reference)).first()
            if existing is not None:
                return _posting(existing)
            return self._post(
                c,
                reference=reference,
                kind=kind,
                isin=isin,
                debit=issuance,
                credit=account,
                quantity=quantity,
                from_blocked=False,
            )

    def seed(self, document: dict) -> str:
        """Book opening positions from a seed document (its format: ``python -m csd_adapters.reference_csd
        --help``) into an empty ledger, dated ``opening_date`` when the document gives one (else today).

        A second run with the same document changes nothing; a different one is refused. Returns what
        was done, in words.
        """
        digest = json.dumps(document, sort_keys=True, separators=(",", ":"))
        with self.engine.connect() as c:
            done = c.execute(sa.select(t.meta.c.value).where(t.meta.c.key == "seed")).scalar()
        if done is not None:
            if done == digest:
                return "already seeded with this document: nothing to do"
            raise SeedError("this ledger was seeded with a different document; use a fresh database")
        for entry in document.get("securities", ()):
            self.add_security(entry["isin"], face_amount=bool(entry.get("face_amount", False)))
        for entry in document.get("accounts", ()):
            self.open_account(entry["number"], entry["kind"])
        per_isin: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
        for entry in document.get("positions", ()):
            per_isin[entry["isin"]].append((entry["account"], Decimal(str(entry["quantity"]))))
        opening = document.get("opening_date")
        opening_date = dt.date.fromisoformat(opening) if opening else None
        count = 0
        try:
            with self.engine.begin() as c:
                for isin, positions in sorted(per_isin.items()):
                    if sum(q for _, q in positions) != 0:
                        raise SeedError(
                            f"the positions in {isin} do not sum to zero: every posting must balance"
                        )
                    givers = [[a, -q] for a, q in positions if q < 0]
                    for account, wanted in ((a, q) for a, q in positions if q > 0):
                        while wanted > 0:
                            giver = givers[0]
                            moved = min(wanted, giver[1])
                            _keepable(moved)
                            count += 1
                            self._post(
                                c,
                                reference=f"OPEN-{count}",
                                kind="OPENING",
                                isin=isin,
                                debit=giver[0],
                                credit=account,
                                quantity=moved,
                                from_blocked=False,
                                settlement_date=opening_date,
                            )
                            wanted -= moved
                            giver[1] -= moved
                            if giver[1] == 0:
                                givers.pop(0)
                c.execute(t.meta.insert().values(key="seed", value=digest))
        except AdapterError as exc:
            raise SeedError(f"cannot book the opening positions: {exc}") from exc
        return f"seeded {len(per_isin)} securities with {count} opening postings"

    # ------------------------------------------------------------------------------------- legs

    def reserve(
        self,
        *,
        reference: str,
        account: str,
        isin: str,
        quantity: Decimal,
        linked_reference: str | None = None,
    ) -> LegOutcome:
        _keepable(quantity)
        for attempt in (1, 2):
            try:
                return self._reserve(reference, account, isin, quantity, linked_reference)
            except sa.exc.IntegrityError:
                # A concurrent call inserted this leg's reservation first: replay against its row.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _reserve(self, reference, account, isin, quantity, linked_reference) -> LegOutcome:
        # Check, then apply: the usual case in three statements (the account, the conditional move
        # available -> blocked, the reservation inserted unless the leg has one already), and a refusal
        # is decided before anything is written. Refusals are told apart only once the move failed, in
        # the order: unknown account, replay, security, blocked, lack.
        with self._unit() as c:
            debit = self._account_row(c, account)
            if debit is None or debit.blocked:
                row = self._reservation(c, reference)
                if row is not None:
                    return _reservation_replayed(row, account, isin, quantity)
                if debit is None:
                    raise UnknownAccount(f"no account {account}")
                self._security(c, isin)
                raise BlockedAccount(f"account {account} is blocked")
            moved = self._block(c, account, isin, quantity)
            if moved != 1:
                row = self._reservation(c, reference)
                if row is not None:
                    return _reservation_replayed(row, account, isin, quantity)
                self._security(c, isin)
                if debit.contra:  # a contra account may go short: its first balance row for the security
                    self._ensure_balance(c, debit, isin)
                    moved = self._block(c, account, isin, quantity)
            if moved != 1:
                raise InsufficientSecurities(f"account {account} holds less than {quantity} {isin} available")
            today = self.today()
            new_id = self._sql.reserve(
                c,
                {
                    "ref": reference,
                    "acct": account,
                    "sec": isin,
                    "qty": quantity,
                    "linked": linked_reference,
                    "day": today,
                },
            ).scalar()
            if new_id is None:  # the leg has its reservation already: a replay, and the move is given back
                self._sql.unblock(c, {"acct": account, "sec": isin, "qty": quantity})
                return _reservation_replayed(self._reservation(c, reference), account, isin, quantity)
        return LegOutcome(
            leg_id=reference, state=LegState.PREPARED, csd_reference=f"R{new_id}", settlement_date=today
        )

    def _block(self, c: sa.Connection, account: str, isin: str, quantity: Decimal) -> int:
        """Move ``quantity`` from available to blocked if available holds it (or the account is contra)."""
        return self._sql.block(c, {"acct": account, "sec": isin, "qty": quantity}).rowcount

    def instruct(
        self,
        *,
        reference: str,
        side: str,
        account: str,
        counterparty_account: str,
        isin: str,
        quantity: Decimal,
    ) -> LegOutcome | None:
        """Record one side of a delivery (``DELI`` from ``account``, ``RECE`` into it) and settle the leg
        once both sides are in and agree; ``None`` while the other side is still missing (unmatched).

        Recording is idempotent per (reference, side); each side may come first or be replayed, and both
        arriving at once settle the leg once (``deliver`` is idempotent too).
        """
        if side not in ("DELI", "RECE"):
            raise ValueError(f"side {side!r} is neither DELI nor RECE")
        _keepable(quantity)
        wanted = (account, counterparty_account, isin, quantity)
        with self._unit() as c:
            self._account(c, account)
            self._sql.instruct(
                c,
                {
                    "reference": reference,
                    "side": side,
                    "account": account,
                    "counterparty_account": counterparty_account,
                    "isin": isin,
                    "quantity": quantity,
                },
            )
            rows = {r.side: r for r in self._sql.instructions(c, {"ref": reference})}
        mine = rows[side]
        if (mine.account, mine.counterparty_account, mine.isin, mine.quantity) != wanted:
            raise LegConflict(f"leg {reference} was instructed ({side}) with other details")
        other = rows.get("RECE" if side == "DELI" else "DELI")
        if other is None:
            return None
        if (other.account, other.counterparty_account, other.isin, other.quantity) != (
            counterparty_account,
            account,
            isin,
            quantity,
        ):
            raise LegConflict(f"the delivering and receiving instructions of leg {reference} do not match")
        deliverer = mine if side == "DELI" else other
        return self.deliver(
            reference=reference,
            account=deliverer.account,
            credit_account=deliverer.counterparty_account,
            isin=isin,
            quantity=quantity,
        )

    def deliver(
        self, *, reference: str, account: str, credit_account: str, isin: str, quantity: Decimal
    ) -> LegOutcome:
        _keepable(quantity)
        with self._unit() as c:
            row = self._reservation(c, reference, lock=True)
            if row is None:
                raise LegNotPrepared(f"leg {reference} was never prepared")
            _same_movement(row, account, isin, quantity)
            if row.state == "RELEASED":
                raise LegAborted(f"leg {reference} was aborted; it cannot be committed")
            if row.state == "COMMITTED":
                posting = c.execute(sa.select(t.postings).where(t.postings.c.id == row.posting_id)).one()
                if posting.credit_account != credit_account:
                    raise LegConflict(f"leg {reference} was delivered to {posting.credit_account}")
                return LegOutcome(
                    leg_id=reference,
                    state=LegState.COMMITTED,
                    csd_reference=f"P{posting.id}",
                    settlement_date=posting.settlement_date,
                    replayed=True,
                )
            credit = self._account(c, credit_account)
            # The reservation's balance row exists (it was blocked there), and with it the security.
            posting = self._book(
                c,
                reference=reference,
                kind="DELIVERY",
                isin=isin,
                debit=account,
                credit=credit,
                quantity=quantity,
                from_blocked=True,
            )
            claimed = self._sql.commit_reservation(
                c,
                {"rid": row.id, "day": posting.settlement_date, "pid": posting.id},
            ).rowcount
            if claimed != 1:
                raise RuntimeError(f"reservation of leg {reference} changed under its lock")
        return LegOutcome(
            leg_id=reference,
            state=LegState.COMMITTED,
            csd_reference=f"P{posting.id}",
            settlement_date=posting.settlement_date,
        )

    def release(self, *, reference: str, account: str, isin: str, quantity: Decimal) -> LegOutcome:
        _keepable(quantity)
        for attempt in (1, 2):
            try:
                return self._release(reference, account, isin, quantity)
            except sa.exc.IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _release(self, reference, account, isin, quantity) -> LegOutcome:
        with self._unit() as c:
            row = self._reservation(c, reference, lock=True)
            today = self.today()
            if row is None:
                self._account(c, account)
                new_id = c.execute(
                    t.reservations.insert().values(
                        reference=reference,
                        account=account,
                        isin=isin,
                        quantity=quantity,
                        state="RELEASED",
                        applied=False,
                        reserved_on=today,
                        closed_on=today,
                    )
                ).inserted_primary_key[0]
                return LegOutcome(
                    leg_id=reference,
                    state=LegState.ABORTED,
                    csd_reference=f"R{new_id}",
                    settlement_date=today,
                )
            _same_movement(row, account, isin, quantity)
            if row.state == "COMMITTED":
                raise LegCommitted(f"leg {reference} was committed; it cannot be aborted")
            if row.state == "RELEASED":
                return LegOutcome(
                    leg_id=reference,
                    state=LegState.ABORTED,
                    csd_reference=f"R{row.id}",
                    settlement_date=row.closed_on,
                    replayed=True,
                )
            self._sql.release_reservation(c, {"rid": row.id, "day": today})
            self._sql.unblock(c, {"acct": account, "sec": isin, "qty": quantity})
        return LegOutcome(
            leg_id=reference, state=LegState.ABORTED, csd_reference=f"R{row.id}", settlement_date=today
        )

    # ---------------------------------------------------------------------------------- statements

    def positions(self, account: str, as_of: dt.date) -> tuple[Position, ...]:
        """Positions of ``account`` at the close of ``as_of``, rebuilt from postings and reservations
        (never read from the running balances, so a statement proves the books, not the cache)."""
        with self.engine.connect() as c:
            self._account(c, account)
            totals: dict[str, Decimal] = defaultdict(Decimal)
            for p in c.execute(
                sa.select(t.postings).where(
                    sa.or_(t.postings.c.debit_account == account, t.postings.c.credit_account == account),
                    t.postings.c.settlement_date <= as_of,
                )
            ):
                totals[p.isin] += p.quantity if p.credit_account == account else -p.quantity
            blocked: dict[str, Decimal] = defaultdict(Decimal)
            for r in c.execute(
                sa.select(t.reservations).where(
                    t.reservations.c.account == account,
                    t.reservations.c.applied,
                    t.reservations.c.reserved_on <= as_of,
                    sa.or_(t.reservations.c.closed_on.is_(None), t.reservations.c.closed_on > as_of),
                )
            ):
                blocked[r.isin] += r.quantity
            face_amount = self._face_amount(c)
        isins = sorted(set(totals) | set(blocked))
        return tuple(
            Position(
                isin=i,
                available=totals[i] - blocked[i],
                blocked=blocked[i],
                face_amount=face_amount.get(i, False),
            )
            for i in isins
            if totals[i] or blocked[i]
        )

    def movements(self, account: str, since: dt.date, until: dt.date) -> tuple[Movement, ...]:
        with self.engine.connect() as c:
            self._account(c, account)
            rows = c.execute(
                sa.select(t.postings)
                .where(
                    sa.or_(t.postings.c.debit_account == account, t.postings.c.credit_account == account),
                    t.postings.c.settlement_date >= since,
                    t.postings.c.settlement_date <= until,
                )
                .order_by(t.postings.c.id)
            ).all()
            face_amount = self._face_amount(c)
        return tuple(
            Movement(
                reference=p.reference,
                isin=p.isin,
                quantity=p.quantity,
                credit=p.credit_account == account,
                settlement_date=p.settlement_date,
                csd_reference=f"P{p.id}",
                face_amount=face_amount.get(p.isin, False),
            )
            for p in rows
        )

    def _face_amount(self, c: sa.Connection) -> dict[str, bool]:
        """Which securities this CSD counts in face amount (bonds) rather than units, by ISIN."""
        return dict(c.execute(sa.select(t.securities.c.isin, t.securities.c.face_amount)).all())

    def postings(self) -> list[Posting]:
        with self.engine.connect() as c:
            return [_posting(r) for r in c.execute(sa.select(t.postings).order_by(t.postings.c.id))]

    def balances(self) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
        """The running balances: (account, isin) -> (available, blocked)."""
        with self.engine.connect() as c:
            return {(r.account, r.isin): (r.available, r.blocked) for r in c.execute(sa.select(t.balances))}

    def discrepancies(self) -> list[str]:
        """Every way the running balances differ from the postings and open reservations; empty when the
        books agree. Also checks that each security nets to zero across the CSD (conservation)."""
        expected: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for p in self.postings():
            expected[(p.debit_account, p.isin)][0] -= p.quantity
            expected[(p.credit_account, p.isin)][0] += p.quantity
        with self.engine.connect() as c:
            for r in c.execute(sa.select(t.reservations).where(t.reservations.c.state == "RESERVED")):
                expected[(r.account, r.isin)][0] -= r.quantity
                expected[(r.account, r.isin)][1] += r.quantity
        actual = self.balances()
        problems = []
        for key in sorted(set(expected) | set(actual)):
            want = tuple(expected.get(key, (ZERO, ZERO)))
            have = actual.get(key, (ZERO, ZERO))
            if want != have:
                problems.append(f"{key[0]} {key[1]}: balances say {have}, postings and reservations {want}")
        net: dict[str, Decimal] = defaultdict(Decimal)
        for (_, isin), (available, blocked) in actual.items():
            net[isin] += available + blocked
        problems += [f"{isin} nets to {total}, not zero" for isin, total in sorted(net.items()) if total]
        return problems

    # ---------------------------------------------------------------------------------- internals

    def _reservation(self, c: sa.Connection, reference: str, lock: bool = False):
        query = self._sql.reservation_locked if lock else self._sql.reservation
        return query(c, {"ref": reference}).first()

    def _account(self, c: sa.Connection, number: str) -> Account:
        account = self._account_row(c, number)
        if account is None:
            raise UnknownAccount(f"no account {number}")
        return account

    def _account_row(self, c: sa.Connection, number: str) -> Account | None:
        row = self._sql.account(c, {"number": number}).first()
        return None if row is None else Account(number=row.number, kind=row.kind, blocked=row.blocked)

    def _security(self, c: sa.Connection, isin: str) -> None:
        if self._sql.security(c, {"sec": isin}).first() is None:
            raise UnknownSecurity(f"no security {isin} at this CSD")

    def _ensure_balance(self, c: sa.Connection, account: Account, isin: str) -> None:
        c.execute(
            self._insert(t.balances)
            .values(account=account.number, isin=isin, contra=account.contra, available=0, blocked=0)
            .on_conflict_do_nothing()
        )

    def _post(
        self,
        c: sa.Connection,
        *,
        reference: str,
        kind: str,
        isin: str,
        debit: str,
        credit: str,
        quantity: Decimal,
        from_blocked: bool,
        settlement_date: dt.date | None = None,
    ) -> Posting:
        """A posting between two accounts that are checked to exist, of a security checked too."""
        debit_account = self._account(c, debit)
        credit_account = self._account(c, credit)
        self._security(c, isin)
        self._ensure_balance(c, debit_account, isin)
        return self._book(
            c,
            reference=reference,
            kind=kind,
            isin=isin,
            debit=debit,
            credit=credit_account,
            quantity=quantity,
            from_blocked=from_blocked,
            settlement_date=settlement_date,
        )

    def _book(
        self,
        c: sa.Connection,
        *,
        reference: str,
        kind: str,
        isin: str,
        debit: str,
        credit: Account,
        quantity: Decimal,
        from_blocked: bool,
        settlement_date: dt.date | None = None,
    ) -> Posting:
        """Book a posting: the debit's sub-balance down (its balance row must exist), the credit's
        available up (its row made if need be), the posting row. The CHECK constraints refuse any
        balance going negative that may not."""
        position = {"acct": debit, "sec": isin, "qty": quantity}
        if self._sql.take[from_blocked](c, position).rowcount != 1:
            if self._sql.balance(c, position).first() is None:
                raise InsufficientSecurities(f"account {debit} holds no {isin}")
            raise InsufficientSecurities(f"account {debit} holds less than {quantity} {isin}")
        self._sql.credit(c, {"acct": credit.number, "sec": isin, "contra": credit.contra, "qty": quantity})
        settlement_date = settlement_date or self.today()
        new_id = self._sql.post(
            c,
            {
                "reference": reference,
                "kind": kind,
                "isin": isin,
                "debit_account": debit,
                "credit_account": credit.number,
                "quantity": quantity,
                "from_blocked": from_blocked,
                "settlement_date": settlement_date,
                "booked_at": self.now(),
            },
        ).scalar()
        return Posting(
            id=new_id,
            reference=reference,
            kind=kind,
            isin=isin,
            debit_account=debit,
            credit_account=credit.number,
            quantity=quantity,
            from_blocked=from_blocked,
            settlement_date=settlement_date,
        )


def _worth_retrying(exc: sa.exc.DBAPIError) -> bool:
    """A deadlock or serialization failure (PostgreSQL), or a locked database (SQLite)."""
    code = getattr(exc.orig, "pgcode", None)
    return code in ("40P01", "40001") or "database is locked" in str(exc.orig)


def _reservation_replayed(row, account: str, isin: str, quantity: Decimal) -> LegOutcome:
    """The outcome of a reserve replayed against the leg's reservation ``row``."""
    _same_movement(row, account, isin, quantity)
    if row.state == "RELEASED":
        raise LegAborted(f"leg {row.reference} was aborted; it cannot be prepared again")
    return LegOutcome(
        leg_id=row.reference,
        state=LegState.PREPARED if row.state == "RESERVED" else LegState.COMMITTED,
        csd_reference=f"R{row.id}",
        settlement_date=row.reserved_on,
        replayed=True,
    )


def _same_movement(row, account: str, isin: str, quantity: Decimal) -> None:
    if (row.account, row.isin, row.quantity) != (account, isin, quantity):
        raise LegConflict(
            f"leg {row.reference} was {row.quantity} {row.isin} on {row.account}, "
            f"not {quantity} {isin} on {account}"
        )


def _posting(row) -> Posting:
    return Posting(
        id=row.id,
        reference=row.reference,
        kind=row.kind,
        isin=row.isin,
        debit_account=row.debit_account,
        credit_account=row.credit_account,
        quantity=row.quantity,
        from_blocked=row.from_blocked,
        settlement_date=row.settlement_date,
    )


def seed_document(
    accounts: Iterable[tuple[str, str]],
    positions: Iterable[tuple[str, str, Decimal]],
    securities: Iterable[tuple[str, bool]] = (),
) -> dict:
    """A seed document from (number, kind), (account, isin, quantity) and (isin, face_amount) tuples."""
    positions = list(positions)
    known = {isin for isin, _ in securities}
    return {
        "securities": [{"isin": i, "face_amount": f} for i, f in securities]
        + [{"isin": i, "face_amount": False} for i in sorted({p[1] for p in positions} - known)],
        "accounts": [{"number": n, "kind": k} for n, k in accounts],
        "positions": [{"account": a, "isin": i, "quantity": str(q)} for a, i, q in positions],
    }
