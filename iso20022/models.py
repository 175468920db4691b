"""The business content of the messages the hub speaks, independent of their syntax.

ISO 20022 MX (``iso20022.mx``) and ISO 15022 MT (``iso20022.mt``) both parse into these classes and build
from them, so the rest of the hub never sees XML or FIN. Everything is a frozen, slotted dataclass with
keyword-only fields (``iso20022.frozen``, which gives each a quicker ``__init__``); quantities and amounts
are ``Decimal``; dates are ``datetime.date``; codes are ``StrEnum`` members whose values are the ISO codes
themselves (shared by MX and MT: ``DELI``, ``FREE``, ``UNIT``, ``AVAI`` ...), so ``Side("DELI")`` works on
either side.

Messages and the syntax each one covers:

| model | MX | MT |
|---|---|---|
| ``SettlementInstruction`` | sese.023 | MT540-543 |
| ``StatusAdvice`` | sese.024 | MT548 |
| ``SettlementConfirmation`` | sese.025 | MT544-547 |
| ``CancellationRequest`` | sese.020 | MT540-543 with ``:23G:CANC`` |
| ``CancellationStatus`` | sese.027 | MT548 (cancellation) |
| ``IntraPositionMovement`` | semt.013 | MT524 |
| ``IntraPositionStatus`` | semt.014 | MT508 (status) |
| ``IntraPositionConfirmation`` | semt.015 | MT508 |
| ``HoldingsStatement`` | semt.002 | MT535 |
| ``TransactionsStatement`` | semt.017 | MT536 |
| ``BusinessHeader`` | head.001.001.02 | blocks 1 and 2 |
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from iso20022.frozen import frozen

# --------------------------------------------------------------------------------------------- codes


class Side(StrEnum):
    """Securities movement type (sese.023 ``SctiesMvmntTp``; MT540/541 receive, MT542/543 deliver)."""

    DELIVER = "DELI"
    RECEIVE = "RECE"


class Payment(StrEnum):
    """Free of payment or against payment (sese.023 ``Pmt``; MT540/542 free, MT541/543 against)."""

    FREE = "FREE"
    AGAINST_PAYMENT = "APMT"


class QuantityType(StrEnum):
    """Units (shares) or face amount (bonds): the ``Unit`` / ``FaceAmt`` choice, MT ``UNIT`` / ``FAMT``."""

    UNIT = "UNIT"
    FACE_AMOUNT = "FAMT"


class CreditDebit(StrEnum):
    CREDIT = "CRDT"
    DEBIT = "DBIT"


class SubBalance(StrEnum):
    """Securities sub-balance types (ISO ``SecuritiesBalanceType`` codes, MT ``:93A:`` / ``:93C:``).

    The hub itself uses ``AVAILABLE`` and ``BLOCKED`` (reservation = move from AVAI to BLOK); the others
    appear in statements from CSDs.
    """

    AVAILABLE = "AVAI"
    BLOCKED = "BLOK"
    AWAITING_REGISTRATION = "AWAS"
    BLOCKED_CORPORATE_ACTION = "BLCA"
    BLOCKED_TRADING = "BLOT"
    BLOCKED_AUTHENTICITY = "BLOV"
    BORROWED = "BORR"
    COLLATERAL_IN = "COLI"
    COLLATERAL_OUT = "COLO"
    LENT = "LOAN"
    MARGIN = "MARG"
    PENDING_RECEIPT = "PECA"
    PENDING_DELIVERY = "PEDA"
    PLEDGED = "PLED"
    REGISTERED = "REGO"
    RESTRICTED = "RSTR"
    IN_TRANSIT = "TRAN"
    DRAWN = "DRAW"
    UNREGISTERED = "UNRG"
    OTHER = "OTHR"


class ProcessingStatusCode(StrEnum):
    """Processing status of an instruction or a request (MT548 ``:25D::IPRC//`` / ``CPRC//`` codes).

    MX choice element per member: ACCEPTED ``AckdAccptd``, PENDING_PROCESSING ``PdgPrcg``, REJECTED
    ``Rjctd``, REPAIR ``Rpr``, CANCELLED ``Canc``, PENDING_CANCELLATION ``PdgCxl``, CANCELLATION_REQUESTED
    ``CxlReqd``, MODIFICATION_REQUESTED ``ModReqd``, DENIED ``Dnd`` (sese.027 only).
    """

    ACCEPTED = "PACK"
    PENDING_PROCESSING = "PPRC"
    REJECTED = "REJT"
    REPAIR = "REPR"
    CANCELLED = "CAND"
    PENDING_CANCELLATION = "CANP"
    CANCELLATION_REQUESTED = "CPRC"
    MODIFICATION_REQUESTED = "MPRC"
    DENIED = "DEND"


class MatchingStatusCode(StrEnum):
    """MT548 ``:25D::MTCH//``; MX ``MtchgSts`` ``Mtchd`` / ``Umtchd``."""

    MATCHED = "MACH"
    UNMATCHED = "NMAT"


class SettlementStatusCode(StrEnum):
    """MT548 ``:25D::SETT//``; MX ``SttlmSts`` ``Pdg`` / ``Flng`` (failing = past intended date)."""

    PENDING = "PEND"
    FAILING = "PENF"


# ------------------------------------------------------------------------------------ building blocks


@frozen
class Quantity:
    """A quantity of a financial instrument: ``amount`` units or ``amount`` of face value."""

    amount: Decimal
    type: QuantityType = QuantityType.UNIT


@frozen
class Amount:
    """A cash amount in an ISO 4217 currency."""

    value: Decimal
    currency: str


@frozen
class Security:
    """A financial instrument, identified by ISIN (ISO 6166), with an optional description."""

    isin: str
    description: str | None = None


@frozen
class Counterparty:
    """The other side of a settlement: its BIC, safekeeping account and CSD (place of settlement).

    For a delivery these are the receiving settlement parties, for a receipt the delivering ones.
    ``client_bic`` / ``client_account`` are the counterparty's optional client (``Pty2`` / MT ``BUYR``,
    ``SELL``) fields.
    """

    bic: str
    csd_bic: str
    safekeeping_account: str | None = None
    client_bic: str | None = None
    client_account: str | None = None


@frozen
class Reason:
    """One reason for a status: an ISO external code (4 characters) and optional narrative.

    ``issuer`` is set only for a proprietary code (MX ``Prtry`` with ``Issr``; MT ``:24B::REJT/ISSR/CODE``);
    ``None`` means an ISO code from the message's code list.
    """

    code: str
    narrative: str | None = None
    issuer: str | None = None


@frozen
class ProcessingStatus:
    code: ProcessingStatusCode
    reasons: tuple[Reason, ...] = ()


@frozen
class MatchingStatus:
    code: MatchingStatusCode
    reasons: tuple[Reason, ...] = ()


@frozen
class SettlementStatus:
    code: SettlementStatusCode
    reasons: tuple[Reason, ...] = ()


@frozen
class TransactionDetails:
    """The instruction a status refers to, as the account servicer echoes it (sese.024 ``TxDtls``,
    MT548 sequence B)."""

    side: Side
    payment: Payment
    security: Security
    quantity: Quantity
    intended_settlement_date: dt.date
    trade_date: dt.date | None = None
    safekeeping_account: str | None = None
    account_owner_bic: str | None = None
    counterparty: Counterparty | None = None
    transaction_type: str = "TRAD"


# ------------------------------------------------------------------------------------------- messages


@frozen
class BusinessHeader:
    """The ISO 20022 business application header (head.001.001.02 ``AppHdr``).

    ``creation`` is timezone-aware. ``message_definition_id`` is e.g. ``"sese.023.001.11"``.
    """

    from_bic: str
    to_bic: str
    business_message_id: str
    message_definition_id: str
    creation: dt.datetime
    business_service: str | None = None
    related_business_message_id: str | None = None


@frozen
class SettlementInstruction:
    """One side's settlement instruction (sese.023; MT540-543).

    ``business_message_id`` is the header's ``BizMsgIdr`` when the instruction arrived with one (``None``
    for a bare document or MT, where the sender's reference is ``transaction_id`` = ``:20C::SEME``).
    ``settlement_amount`` is required for and only meaningful with ``Payment.AGAINST_PAYMENT``.
    ``transaction_type`` is the ISO securities transaction type (``TRAD`` trade, ``OWNI`` internal account
    transfer, ``OWNE`` external account transfer ...; MT ``:22F::SETR//``).
    """

    transaction_id: str
    side: Side
    payment: Payment
    trade_date: dt.date
    intended_settlement_date: dt.date
    security: Security
    quantity: Quantity
    safekeeping_account: str
    account_owner_bic: str
    counterparty: Counterparty
    business_message_id: str | None = None
    transaction_type: str = "TRAD"
    common_trade_reference: str | None = None
    settlement_amount: Amount | None = None
    client_bic: str | None = None
    client_account: str | None = None
    own_csd_bic: str | None = None


@frozen
class StatusAdvice:
    """The status of one instruction (sese.024; MT548): any of processing, matching, settlement.

    ``transaction_id`` is the account owner's reference (``AcctOwnrTxId``; MT ``:20C::RELA``);
    ``account_servicer_transaction_id`` the servicer's (``AcctSvcrTxId``; the hub's instruction id).
    """

    transaction_id: str
    account_servicer_transaction_id: str | None = None
    market_infrastructure_transaction_id: str | None = None
    processing: ProcessingStatus | None = None
    matching: MatchingStatus | None = None
    settlement: SettlementStatus | None = None
    details: TransactionDetails | None = None


@frozen
class SettlementConfirmation:
    """A settled (or partially settled) instruction (sese.025; MT544-547)."""

    transaction_id: str
    side: Side
    payment: Payment
    effective_settlement_date: dt.date
    security: Security
    settled_quantity: Quantity
    safekeeping_account: str
    account_owner_bic: str
    counterparty: Counterparty
    account_servicer_transaction_id: str | None = None
    market_infrastructure_transaction_id: str | None = None
    trade_date: dt.date | None = None
    transaction_type: str = "TRAD"
    common_trade_reference: str | None = None
    settled_amount: Amount | None = None


@frozen
class CancellationRequest:
    """A request to cancel an earlier instruction (sese.020; MT54x with ``:23G:CANC``).

    ``transaction_id`` is the reference of the instruction to cancel (its ``TxId`` / ``SEME``).
    ``security``, ``quantity`` and ``intended_settlement_date`` describe it; MX carries them only all
    together (``TxDtls``).
    """

    transaction_id: str
    side: Side
    payment: Payment
    safekeeping_account: str
    account_owner_bic: str | None = None
    business_message_id: str | None = None
    account_servicer_transaction_id: str | None = None
    security: Security | None = None
    quantity: Quantity | None = None
    intended_settlement_date: dt.date | None = None


@frozen
class CancellationStatus:
    """The status of a cancellation request (sese.027; MT548 for a cancellation).

    ``security``, ``quantity`` and ``intended_settlement_date`` echo the cancelled instruction; MX carries
    them (and the account fields) only all together (``TxDtls``).
    """

    cancellation_request_reference: str
    transaction_id: str
    side: Side
    payment: Payment
    processing: ProcessingStatus
    account_servicer_transaction_id: str | None = None
    safekeeping_account: str | None = None
    account_owner_bic: str | None = None
    security: Security | None = None
    quantity: Quantity | None = None
    intended_settlement_date: dt.date | None = None


@frozen
class IntraPositionMovement:
    """Move a quantity between two sub-balances of one account (semt.013; MT524).

    The hub's reservation: ``from_balance=AVAILABLE, to_balance=BLOCKED``; its release the reverse.
    ``linked_reference`` points at the transaction the movement serves (``Lnkgs``; MT ``:20C::PREV``).
    """

    transaction_id: str
    security: Security
    quantity: Quantity
    settlement_date: dt.date
    from_balance: SubBalance
    to_balance: SubBalance
    safekeeping_account: str
    account_owner_bic: str | None = None
    linked_reference: str | None = None


@frozen
class IntraPositionStatus:
    """Status of an intra-position movement (semt.014; MT508 used as status)."""

    transaction_id: str
    account_servicer_transaction_id: str | None = None
    processing: ProcessingStatus | None = None
    settlement: SettlementStatus | None = None
    security: Security | None = None
    quantity: Quantity | None = None
    settlement_date: dt.date | None = None
    safekeeping_account: str | None = None
    account_owner_bic: str | None = None
    from_balance: SubBalance | None = None
    to_balance: SubBalance | None = None


@frozen
class IntraPositionConfirmation:
    """A completed intra-position movement (semt.015; MT508)."""

    transaction_id: str
    security: Security
    settled_quantity: Quantity
    settlement_date: dt.date
    from_balance: SubBalance
    to_balance: SubBalance
    safekeeping_account: str
    account_owner_bic: str | None = None
    account_servicer_transaction_id: str | None = None


@frozen
class SubBalanceQuantity:
    balance: SubBalance
    quantity: Decimal


@frozen
class HoldingBalance:
    """One security's position on a holdings statement (semt.002 ``BalForAcct``; MT535 B / B1b).

    ``aggregate`` is the total; ``available`` / ``not_available`` the optional split; ``sub_balances``
    the breakdown by sub-balance type (e.g. ``BLOK``).
    """

    security: Security
    aggregate: Decimal
    quantity_type: QuantityType = QuantityType.UNIT
    available: Decimal | None = None
    not_available: Decimal | None = None
    sub_balances: tuple[SubBalanceQuantity, ...] = ()

    def sub_balance(self, balance: SubBalance) -> Decimal:
        """The quantity on one sub-balance type, zero when absent."""
        return sum((s.quantity for s in self.sub_balances if s.balance is balance), Decimal(0))

    @property
    def blocked(self) -> Decimal:
        return self.sub_balance(SubBalance.BLOCKED)


@frozen
class HoldingsStatement:
    """Statement of holdings for one safekeeping account at one date (semt.002; MT535).

    ``frequency`` (``DAIL``, ``ADHO`` ...), ``update_type`` (``COMP`` complete, ``DELT`` delta) and
    ``basis`` (``SETT`` settled, ``CONT`` contractual, ``TRAD`` traded) are the ISO codes.
    """

    statement_date: dt.date
    safekeeping_account: str
    balances: tuple[HoldingBalance, ...] = ()
    account_owner_bic: str | None = None
    statement_id: str | None = None
    page_number: int = 1
    last_page: bool = True
    frequency: str = "DAIL"
    update_type: str = "COMP"
    basis: str = "SETT"


@frozen
class StatementMovement:
    """One posting on a transactions statement (semt.017 ``Tx``; MT536 sequence B1a2)."""

    security: Security
    transaction_id: str
    quantity: Quantity
    credit_debit: CreditDebit
    settlement_date: dt.date
    account_servicer_transaction_id: str | None = None
    market_infrastructure_transaction_id: str | None = None
    payment: Payment = Payment.FREE
    transaction_type: str = "TRAD"


@frozen
class TransactionsStatement:
    """Statement of settled transactions of one account over a period (semt.017; MT536)."""

    period_start: dt.date
    period_end: dt.date
    safekeeping_account: str
    movements: tuple[StatementMovement, ...] = ()
    account_owner_bic: str | None = None
    statement_id: str | None = None
    page_number: int = 1
    last_page: bool = True
    frequency: str = "DAIL"
    update_type: str = "COMP"
    basis: str = "SETT"


Message = (
    SettlementInstruction
    | StatusAdvice
    | SettlementConfirmation
    | CancellationRequest
    | CancellationStatus
    | IntraPositionMovement
    | IntraPositionStatus
    | IntraPositionConfirmation
    | HoldingsStatement
    | TransactionsStatement
)
"""Any business message the library parses into or builds from."""
