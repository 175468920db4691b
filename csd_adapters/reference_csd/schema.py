"""The reference CSD's own database: tables, and the constraints that hold the ledger's rules.

Quantities are stored as integers of millionths (``SCALE``), so arithmetic is exact on SQLite and
PostgreSQL alike; the ``Quantity`` column type converts to and from ``Decimal``.

Rules the database enforces by itself, whatever the code above it does:

- A posting moves one positive quantity from one account to another: balanced by construction.
- ``balances``: a blocked sub-balance never goes negative, and an available one only on a contra account
  (issuance, mirror). The ``contra`` flag is copied onto each balance row and tied to its account by a
  composite foreign key, so it cannot disagree with the account.
- One reservation per leg reference and one posting per reference (the idempotency keys).
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

SCALE = 10**6
CONTRA_KINDS = frozenset({"ISSUANCE", "MIRROR"})
ACCOUNT_KINDS = frozenset({"ISSUANCE", "MIRROR", "OMNIBUS", "OWN", "CLIENT"})


class Quantity(sa.types.TypeDecorator):
    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        scaled = Decimal(value) * SCALE
        if scaled != scaled.to_integral_value():
            raise ValueError(f"quantity {value} has more than 6 decimals")
        return int(scaled)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        whole, fraction = divmod(value, SCALE)
        if not fraction:  # nearly every quantity: a whole number of units, or of face amount
            return Decimal(whole)
        return (Decimal(value) / SCALE).normalize() + Decimal(0)


metadata = sa.MetaData()

meta = sa.Table(
    "refcsd_meta",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

securities = sa.Table(
    "refcsd_securities",
    metadata,
    sa.Column("isin", sa.String(12), primary_key=True),
    sa.Column("face_amount", sa.Boolean, nullable=False, default=False),
)

accounts = sa.Table(
    "refcsd_accounts",
    metadata,
    sa.Column("number", sa.String(35), primary_key=True),
    sa.Column("kind", sa.String(12), nullable=False),
    sa.Column("contra", sa.Boolean, nullable=False),
    sa.Column("blocked", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("number", "contra", name="refcsd_accounts_number_contra"),
    sa.CheckConstraint(
        "kind IN ('ISSUANCE', 'MIRROR', 'OMNIBUS', 'OWN', 'CLIENT')", name="refcsd_accounts_kind"
    ),
    sa.CheckConstraint("contra = (kind IN ('ISSUANCE', 'MIRROR'))", name="refcsd_accounts_contra_kinds"),
)

balances = sa.Table(
    "refcsd_balances",
    metadata,
    sa.Column("account", sa.String(35), primary_key=True),
    sa.Column("isin", sa.String(12), sa.ForeignKey(securities.c.isin), primary_key=True),
    sa.Column("contra", sa.Boolean, nullable=False),
    sa.Column("available", Quantity, nullable=False, default=0),
    sa.Column("blocked", Quantity, nullable=False, default=0),
    sa.ForeignKeyConstraint(["account", "contra"], [accounts.c.number, accounts.c.contra]),
    sa.CheckConstraint("blocked >= 0", name="refcsd_balances_blocked_not_negative"),
    sa.CheckConstraint("contra OR available >= 0", name="refcsd_balances_available_not_negative"),
)

reservations = sa.Table(
    "refcsd_reservations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(35), nullable=False, unique=True),
    sa.Column("account", sa.String(35), sa.ForeignKey(accounts.c.number), nullable=False),
    sa.Column("isin", sa.String(12), nullable=False),
    sa.Column("quantity", Quantity, nullable=False),
    sa.Column("linked_reference", sa.String(35)),
    # RESERVED: blocked on the account; COMMITTED: posted; RELEASED: given back, or closed unused.
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("applied", sa.Boolean, nullable=False),  # false for an abort of a leg never reserved
    sa.Column("reserved_on", sa.Date, nullable=False),
    sa.Column("closed_on", sa.Date),
    sa.Column("posting_id", sa.Integer),
    sa.CheckConstraint("quantity > 0", name="refcsd_reservations_quantity_positive"),
    sa.CheckConstraint("state IN ('RESERVED', 'COMMITTED', 'RELEASED')", name="refcsd_reservations_state"),
)

instructions = sa.Table(
    # One half of a matched delivery (MT542 delivers, MT540 receives): a leg settles once both are in.
    "refcsd_instructions",
    metadata,
    sa.Column("reference", sa.String(35), primary_key=True),
    sa.Column("side", sa.String(4), primary_key=True),
    sa.Column("account", sa.String(35), sa.ForeignKey(accounts.c.number), nullable=False),
    sa.Column("counterparty_account", sa.String(35), nullable=False),
    sa.Column("isin", sa.String(12), nullable=False),
    sa.Column("quantity", Quantity, nullable=False),
    sa.CheckConstraint("side IN ('DELI', 'RECE')", name="refcsd_instructions_side"),
    sa.CheckConstraint("quantity > 0", name="refcsd_instructions_quantity_positive"),
)

postings = sa.Table(
    "refcsd_postings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(35), nullable=False, unique=True),
    sa.Column("kind", sa.String(10), nullable=False),  # OPENING, ISSUE, DELIVERY
    sa.Column("isin", sa.String(12), sa.ForeignKey(securities.c.isin), nullable=False),
    sa.Column("debit_account", sa.String(35), sa.ForeignKey(accounts.c.number), nullable=False),
    sa.Column("credit_account", sa.String(35), sa.ForeignKey(accounts.c.number), nullable=False),
    sa.Column("quantity", Quantity, nullable=False),
    sa.Column("from_blocked", sa.Boolean, nullable=False),
    sa.Column("settlement_date", sa.Date, nullable=False),
    sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("quantity > 0", name="refcsd_postings_quantity_positive"),
    sa.CheckConstraint("debit_account <> credit_account", name="refcsd_postings_two_accounts"),
    sa.CheckConstraint("kind IN ('OPENING', 'ISSUE', 'DELIVERY')", name="refcsd_postings_kind"),
)
sa.Index("refcsd_postings_debit", postings.c.debit_account, postings.c.settlement_date)
sa.Index("refcsd_postings_credit", postings.c.credit_account, postings.c.settlement_date)

endorsements = sa.Table(
    # The header hash this CSD endorsed at each height of the hub's ledger: it never endorses another one
    # there (the same header again is signed again).
    "refcsd_endorsements",
    metadata,
    sa.Column("height", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("header_hash", sa.String(64), nullable=False),
    sa.Column("endorsed_at", sa.DateTime(timezone=True), nullable=False),
)

endorsements_released = sa.Table(
    # What the CSD had endorsed at heights its operator released (``Ledger.endorsements_release``): the
    # deliberate decision to endorse the hub's blocks there again, kept with when it was taken.
    "refcsd_endorsements_released",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("height", sa.BigInteger, nullable=False),
    sa.Column("header_hash", sa.String(64), nullable=False),
    sa.Column("endorsed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
)
