"""The ledger's frequent statements, built once with bound parameters.

Building a SQLAlchemy Core statement costs more than running it on SQLite (an upsert's ``excluded``
alone copies the table's columns); a statement object built once is also compiled once and its cache key
kept. ``Prepared`` holds the statements of the leg operations (reserve, deliver, release); the rules they
rely on stay in the database (``schema``): the CHECK constraints refuse any balance going negative that
may not, whatever the statements say.
"""

from __future__ import annotations

import sqlalchemy as sa

from csd_adapters.reference_csd import schema as t


def _quantity(name: str) -> sa.BindParameter:
    return sa.bindparam(name, type_=t.Quantity())


class Prepared:
    """The statements, for one database dialect (``insert``: its INSERT with ON CONFLICT)."""

    def __init__(self, insert) -> None:
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
        self.take = {
            False: t.balances.update().where(*position).values(available=b.available - q),
            True: t.balances.update().where(*position).values(blocked=b.blocked - q),
        }
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
        self.post = t.postings.insert()
        self.instruct = insert(t.instructions).on_conflict_do_nothing()
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
