"""Errors of the message layer, as values a participant can be told about.

Every failure to read or build a message is described by one or more ``MessageError`` values: an ISO
reason code (so the hub can answer an inbound instruction with a sese.024 / MT548 rejection carrying it),
a human message, and where it happened (``line`` in the input, ``path`` such as
``/Document/SctiesSttlmTxInstr/FinInstrmId/ISIN`` for MX or ``B/:35B:`` for MT). They travel inside one
exception type per kind of failure, all subclasses of ``Iso20022Error``.

Reason codes used (ISO 20022 external code set, RejectionReason code list of sese.024 ``Rjctd``; MT548
``:24B::REJT//``):

| code | meaning | used when |
|---|---|---|
| ``OTHR`` | other (narrative says what) | not well-formed XML or FIN, hostile input, any other refusal |
| ``TXST`` | transaction type / message not supported | unknown message type, version or namespace |
| ``REFE`` | invalid or missing reference | transaction id, business message id, linkages |
| ``DSEC`` | unrecognised or invalid financial instrument | ISIN or instrument description |
| ``DQUA`` | invalid quantity | settlement / settled quantity, balances |
| ``DDAT`` | invalid settlement date | intended / effective settlement date |
| ``DTRD`` | invalid trade date | trade date |
| ``SAFE`` | invalid safekeeping account | safekeeping account |
| ``ICUS`` | invalid party (custodian / account owner) | account owner, header BICs |
| ``DEPT`` | invalid place of settlement (depository) | counterparty CSD, ``Dpstry`` / MT ``PSET`` |
| ``DMON`` | invalid settlement amount | settlement amount or currency |
| ``DDEA`` | invalid deal price / cash details | ``CdtDbtInd`` and other cash details |

``reason_for_path`` picks the code from the failing element's path, so schema errors turn into the same
codes as business errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    """The ISO reason codes this library puts on errors (see the module docstring)."""

    OTHER = "OTHR"
    UNSUPPORTED = "TXST"
    REFERENCE = "REFE"
    SECURITY = "DSEC"
    QUANTITY = "DQUA"
    SETTLEMENT_DATE = "DDAT"
    TRADE_DATE = "DTRD"
    SAFEKEEPING_ACCOUNT = "SAFE"
    PARTY = "ICUS"
    PLACE_OF_SETTLEMENT = "DEPT"
    AMOUNT = "DMON"
    CASH_DETAILS = "DDEA"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageError:
    """One thing wrong with a message: reason code, message, and where (1-based line, path)."""

    reason: ReasonCode
    message: str
    line: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.path:
            where.append(self.path)
        prefix = f"{', '.join(where)}: " if where else ""
        return f"{prefix}{self.message} [{self.reason.value}]"


class Iso20022Error(Exception):
    """Base of every error this library raises; carries one or more ``MessageError`` values."""

    def __init__(self, errors: MessageError | tuple[MessageError, ...] | list[MessageError]):
        if isinstance(errors, MessageError):
            errors = (errors,)
        self.errors: tuple[MessageError, ...] = tuple(errors)
        if not self.errors:
            raise ValueError("an Iso20022Error needs at least one MessageError")
        super().__init__("; ".join(str(e) for e in self.errors))

    @property
    def first(self) -> MessageError:
        return self.errors[0]

    @property
    def reason(self) -> ReasonCode:
        """The reason code of the first error: the one to put on a rejection."""
        return self.errors[0].reason


class MalformedMessage(Iso20022Error):
    """The bytes are not an acceptable message at all: not well-formed, not UTF-8, truncated, hostile
    (DOCTYPE, entities), too large or too deep."""


class UnsupportedMessage(Iso20022Error):
    """Well-formed, but of a message type, version or namespace the hub does not accept."""


class SchemaViolation(Iso20022Error):
    """Well-formed and supported, but invalid against the schema (usage guideline or official)."""


class InvalidContent(Iso20022Error):
    """Valid syntax whose content breaks a business rule (e.g. a bad ISIN check digit, a missing
    amount for an against-payment instruction)."""


class BuildError(Iso20022Error):
    """A model that cannot be expressed in the requested message (e.g. a code outside the code list)."""


_PATH_REASONS: tuple[tuple[str, ReasonCode], ...] = (
    # Most specific first: the first fragment found in the path wins.
    ("Dpstry", ReasonCode.PLACE_OF_SETTLEMENT),
    ("SfkpgAcct", ReasonCode.SAFEKEEPING_ACCOUNT),
    ("TxId", ReasonCode.REFERENCE),
    ("AcctOwnr", ReasonCode.PARTY),
    ("FinInstrmId", ReasonCode.SECURITY),
    ("ISIN", ReasonCode.SECURITY),
    ("FctvSttlmDt", ReasonCode.SETTLEMENT_DATE),
    ("SttlmDt", ReasonCode.SETTLEMENT_DATE),
    ("TradDt", ReasonCode.TRADE_DATE),
    ("SttlmQty", ReasonCode.QUANTITY),
    ("SttldQty", ReasonCode.QUANTITY),
    ("Qty", ReasonCode.QUANTITY),
    ("Bal", ReasonCode.QUANTITY),
    ("SttlmAmt", ReasonCode.AMOUNT),
    ("SttldAmt", ReasonCode.AMOUNT),
    ("CdtDbtInd", ReasonCode.CASH_DETAILS),
    ("SttlmPties", ReasonCode.PARTY),
    ("Fr/", ReasonCode.PARTY),
    ("To/", ReasonCode.PARTY),
    ("BizMsgIdr", ReasonCode.REFERENCE),
    ("Ref", ReasonCode.REFERENCE),
    ("Lnkgs", ReasonCode.REFERENCE),
    ("SctiesTxTp", ReasonCode.UNSUPPORTED),
    ("MsgDefIdr", ReasonCode.UNSUPPORTED),
)


def reason_for_path(path: str | None) -> ReasonCode:
    """The ISO reason code for a failure at ``path`` (an XPath-like element path), ``OTHR`` if none."""
    if path:
        probe = path + "/"
        for fragment, reason in _PATH_REASONS:
            if fragment in probe:
                return reason
    return ReasonCode.OTHER
