"""Domain errors of settlement, each named after the rule it guards and carrying the ISO reason code a
participant is told (sese.024 rejection reasons; see iso20022.errors for the code table)."""

from iso20022.errors import ReasonCode


class SettlementError(Exception):
    reason_code: str = ReasonCode.OTHER

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownSecurity(SettlementError):
    reason_code = ReasonCode.SECURITY


class SecurityNotEligible(SettlementError):
    """The ISIN is not held at one of the two CSDs (neither issued there nor held through a link)."""

    reason_code = ReasonCode.SECURITY


class UnknownAccount(SettlementError):
    reason_code = ReasonCode.SAFEKEEPING_ACCOUNT


class AccountOfAnotherParticipant(SettlementError):
    reason_code = ReasonCode.SAFEKEEPING_ACCOUNT


class BlockedAccount(SettlementError):
    reason_code = ReasonCode.SAFEKEEPING_ACCOUNT


class NotTheAccountOwner(SettlementError):
    """The instruction names an account owner other than the authenticated sender."""

    reason_code = ReasonCode.PARTY


class UnknownCounterparty(SettlementError):
    reason_code = ReasonCode.PARTY


class UnknownPlaceOfSettlement(SettlementError):
    reason_code = ReasonCode.PLACE_OF_SETTLEMENT


class NotTheOwnCsd(SettlementError):
    """The instruction names as the sender's own depository a CSD other than its home CSD."""

    reason_code = ReasonCode.PLACE_OF_SETTLEMENT


class NotCrossCsd(SettlementError):
    """Deliverer and receiver at the same CSD: settled by that CSD itself, not through the hub."""

    reason_code = ReasonCode.PLACE_OF_SETTLEMENT


class QuantityNotPositive(SettlementError):
    reason_code = ReasonCode.QUANTITY


class QuantityTypeMismatch(SettlementError):
    """Units for a bond quoted in face amount, or the reverse."""

    reason_code = ReasonCode.QUANTITY


class SettlementBeforeTrade(SettlementError):
    reason_code = ReasonCode.SETTLEMENT_DATE


class SettlementDateTooFar(SettlementError):
    """An intended settlement date further ahead than the hub takes instructions for (a year)."""

    reason_code = ReasonCode.SETTLEMENT_DATE


class NotCarriedInMt(SettlementError):
    """An ISO 20022 instruction from a participant that takes its statuses in ISO 15022, holding a value
    MT cannot carry (a transaction id over 16 characters, say): every status about it would be unwritable.
    The reason code is the one of the field at fault (REFE for a reference, DQUA for the quantity)."""

    def __init__(self, message: str, *, reason_code: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code


class AgainstPaymentNotSupported(SettlementError):
    reason_code = ReasonCode.UNSUPPORTED


class UnsupportedInstruction(SettlementError):
    reason_code = ReasonCode.UNSUPPORTED


class UnknownInstruction(SettlementError):
    """A cancellation that names no instruction of the sender."""

    reason_code = ReasonCode.REFERENCE


class StatusConflict(SettlementError):
    """A status move that the table of allowed moves refuses, or a row changed under the caller."""


class CancellationDoesNotMatch(SettlementError):
    """A cancellation whose details (side, account, security, quantity, settlement date) are not those of
    the instruction it names; the reason code is the one of the field that differs."""

    def __init__(self, message: str, *, reason_code: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
