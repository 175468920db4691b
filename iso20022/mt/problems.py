"""Reason codes used when an MT message is refused, and the small helper that records one.

The codes are the ISO settlement rejection reasons of ``iso20022.errors.ReasonCode`` (the ones a
sese.024 or an MT548 ``:24B::REJT//`` carries), so a refused MT can be answered in either standard.
"""

from iso20022.errors import MessageError, ReasonCode

REASON_OTHER = ReasonCode.OTHER
REASON_FORMAT = ReasonCode.OTHER
REASON_UNSUPPORTED = ReasonCode.UNSUPPORTED
REASON_DATE = ReasonCode.SETTLEMENT_DATE
REASON_TRADE_DATE = ReasonCode.TRADE_DATE
REASON_QUANTITY = ReasonCode.QUANTITY
REASON_SECURITY = ReasonCode.SECURITY
REASON_ACCOUNT = ReasonCode.SAFEKEEPING_ACCOUNT
REASON_REFERENCE = ReasonCode.REFERENCE
REASON_PARTY = ReasonCode.PARTY
REASON_PLACE = ReasonCode.PLACE_OF_SETTLEMENT
REASON_AMOUNT = ReasonCode.AMOUNT


def problem(errors: list[MessageError], message: str, line: int | None = None, path: str | None = None,
            reason: ReasonCode = ReasonCode.OTHER) -> None:
    """Record one fault; parsers collect them all and raise once."""
    errors.append(MessageError(reason=reason, message=message, line=line, path=path))
