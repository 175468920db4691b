"""The ledger's frequent statements, built once with bound parameters.

Building a SQLAlchemy Core statement costs more than running it on SQLite (an upsert's ``excluded``
alone copies the table's columns); a statement object built once is also compiled once and its cache key
kept. ``Prepared`` holds the statements of the leg operations (reserve, deliver, release); the rules they
rely on stay in the database (``schema``): the CHECK constraints refuse any balance going negative that
may not, whatever the statements say.

``Statement`` goes one step further for the statements of the leg path: compiled once for the database's
dialect, it runs on the DBAPI cursor of the caller's open connection (the same transaction), with the
columns' own bind and result conversions, and none of the per-execution work of SQLAlchemy's
``Connection.execute`` (cache key, execution context, events), which costs several times the statement.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import sqlalchemy as sa

from csd_adapters.reference_csd import schema as t


def _quantity(name: str) -> sa.BindParameter:
    return sa.bindparam(name, type_=t.Quantity())


class Result:
    """What a ``Statement`` returns: the rows (namedtuples, converted by the columns' types) and the
    number of rows changed."""

    __slots__ = ("rows", "rowcount")

    def __init__(self, rows: list, rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount

    def first(self):
        return self.rows[0] if self.rows else None

    def scalar(self):
        return self.rows[0][0] if self.rows else None

    def __iter__(self):
        return iter(self.rows)


class Statement:
    """A Core statement compiled once for ``dialect`` and run straight on the DBAPI cursor.

    Parameters are passed by their bind names, as to ``Connection.execute``; a DBAPI error is raised as
    SQLAlchemy's wrapper for it (``sa.exc.IntegrityError`` ...), as ``Connection.execute`` would.
    """

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.dialect = dialect
        processors = compiled._bind_processors
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        self.positional = compiled.positional
        names = compiled.positiontup if compiled.positional else list(binds)
        # (name in the SQL, caller's key or None for a fixed value, fixed value, conversion)
        self.plan = [
            (name, binds[name].key if binds[name].required else None, binds[name].value, processors.get(name))
            for name in names
        ]
        columns = compiled._result_columns
        self.row = namedtuple("Row", [col.keyname for col in columns]) if columns else None
        self.converters = [col.type._cached_result_processor(dialect, None) for col in columns]

    def __call__(self, connection: sa.Connection, params: dict[str, Any] | None = None) -> Result:
        values = []
        for _, key, fixed, convert in self.plan:
            value = fixed if key is None else params[key]
            values.append(value if convert is None else convert(value))
        bound = (
            values if self.positional else {name: v for (name, *_), v in zip(self.plan, values, strict=True)}
        )
        raw = connection.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            cursor.execute(self.sql, bound)
            rows = []
            if self.row is not None:
                converters = self.converters
                rows = [
                    self.row(*(v if f is None else f(v) for f, v in zip(converters, r, strict=True)))
                    for r in cursor.fetchall()
                ]
            return Result(rows, cursor.rowcount)
        except self.dialect.loaded_dbapi.Error as exc:
            lost = self.dialect.is_disconnect(exc, raw, cursor)
            if lost:
                connection.invalidate(exc)
            raise sa.exc.DBAPIError.instance(
                self.sql,
                bound,
                exc,
                self.dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=self.dialect,
            ) from exc
        finally:
            cursor.close()


class Prepared:
    """The statements, for one database dialect (``insert``: its INSERT with ON CONFLICT), each a
    ``Statement``: ``prepared.block(connection, {"acct": ..., "sec": ..., "qty": ...})``."""

    def __init__(self, insert, dialect: sa.Dialect) -> None:
        b, r, q = t.balances.c, t.reservations.c, _quantity("qty")
        position = (b.account == sa.bindparam("acct"), b.isin == sa.bindparam("sec"))

        self.account = sa.select(t.accounts).where(t.accounts.c.number == sa.bindparam("number"))
        self.security = sa.select(t.securities.c.isin).where(t.securities.c.isin == sa.bindparam("sec"))
        self.reservation = sa.select(t.reservations).where(r.reference == sa.bindparam("ref"))
        self.reservation_locked = self.reservation.with_for_update()

        self.reserve = (
            insert(t.reservations)
            .values(
                reference=sa.bindparam("ref"),
                account=sa.bindparam("acct"),
                isin=sa.bindparam("sec"),
                quantity=q,
                linked_reference=sa.bindparam("linked"),
                state="RESERVED",
                applied=True,
                reserved_on=sa.bindparam("day"),
            )
            .on_conflict_do_nothing()
            .returning(r.id)
        )
        self.block = (
            t.balances.update()
            .where(*position, sa.or_(b.contra, b.available >= q))
            .values(available=b.available - q, blocked=b.blocked + q)
        )
        self.unblock = (
            t.balances.update().where(*position).values(available=b.available + q, blocked=b.blocked - q)
        )
        # Taking out of a sub-balance changes nothing when it holds too little (the CHECK constraints
        # would refuse it anyway, but then the database gives up the statement, or on PostgreSQL the
        # transaction): the caller sees no row changed.
        self.take = {
            False: t.balances.update()
            .where(*position, sa.or_(b.contra, b.available >= q))
            .values(available=b.available - q),
            True: t.balances.update().where(*position, b.blocked >= q).values(blocked=b.blocked - q),
        }
        self.balance = sa.select(b.available, b.blocked).where(*position)
        credit = insert(t.balances).values(
            account=sa.bindparam("acct"),
            isin=sa.bindparam("sec"),
            contra=sa.bindparam("contra"),
            available=q,
            blocked=0,
        )
        self.credit = credit.on_conflict_do_update(
            index_elements=[b.account, b.isin], set_={"available": b.available + credit.excluded.available}
        )
        self.post = (
            t.postings.insert()
            .values(
                {
                    column: sa.bindparam(column.key, type_=column.type)
                    for column in t.postings.c
                    if column.key != "id"
                }
            )
            .returning(t.postings.c.id)
        )
        self.instruct = insert(t.instructions).values(
            {column: sa.bindparam(column.key, type_=column.type) for column in t.instructions.c}
        )
        self.instruct = self.instruct.on_conflict_do_nothing()
        self.instructions = sa.select(t.instructions).where(t.instructions.c.reference == sa.bindparam("ref"))
        self.commit_reservation = (
            t.reservations.update()
            .where(r.id == sa.bindparam("rid"), r.state == "RESERVED")
            .values(state="COMMITTED", closed_on=sa.bindparam("day"), posting_id=sa.bindparam("pid"))
        )
        self.release_reservation = (
            t.reservations.update()
            .where(r.id == sa.bindparam("rid"))
            .values(state="RELEASED", closed_on=sa.bindparam("day"))
        )
        for name, value in list(vars(self).items()):
            if isinstance(value, dict):
                setattr(self, name, {k: Statement(v, dialect) for k, v in value.items()})
            else:
                setattr(self, name, Statement(value, dialect))
