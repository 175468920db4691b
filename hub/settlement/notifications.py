"""What each participant is told about its instructions, as business messages (iso20022 models).

The messaging app renders them in the participant's format and puts them in its outbox; these functions
only decide the content.
"""

import re

from hub.messaging.services import outbound_enqueue
from hub.settlement.models import Instruction
from iso20022 import models as m
from iso20022.errors import ReasonCode

# ISO 20022 cancellation reason codes (sese.024 CancellationReason)
CANCELLED_BY_SENDER = "CANI"
CANCELLED_BY_SYSTEM = "CANS"


_OUTSIDE_SWIFT_X = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")


def narrative(text: str) -> str:
    """Free text both standards can carry: the SWIFT x character set, at most 210 characters (the
    shortest narrative field the hub writes)."""
    return " ".join(_OUTSIDE_SWIFT_X.sub(" ", text).split())[:210]


def instruction_details(instruction: Instruction) -> m.TransactionDetails:
    return m.TransactionDetails(
        side=m.Side(instruction.side),
        payment=m.Payment.FREE,
        security=m.Security(isin=instruction.security.isin),
        quantity=quantity_of(instruction),
        intended_settlement_date=instruction.intended_settlement_date,
        trade_date=instruction.trade_date,
        safekeeping_account=instruction.account.number,
        account_owner_bic=instruction.participant.bic,
        counterparty=m.Counterparty(
            bic=instruction.counterparty_bic,
            csd_bic=instruction.counterparty_csd.bic,
            safekeeping_account=instruction.counterparty_account or None,
        ),
    )


def quantity_of(instruction: Instruction) -> m.Quantity:
    kind = m.QuantityType.FACE_AMOUNT if instruction.security.denomination == "FAMT" else m.QuantityType.UNIT
    return m.Quantity(amount=instruction.quantity, type=kind)


def _advice(instruction: Instruction, **statuses) -> m.StatusAdvice:
    return m.StatusAdvice(
        transaction_id=instruction.transaction_id,
        account_servicer_transaction_id=f"HUBI{instruction.pk}",
        details=instruction_details(instruction),
        **statuses,
    )


def accepted(instruction: Instruction) -> m.StatusAdvice:
    return _advice(instruction, processing=m.ProcessingStatus(code=m.ProcessingStatusCode.ACCEPTED))


def matched(instruction: Instruction) -> m.StatusAdvice:
    return _advice(instruction, matching=m.MatchingStatus(code=m.MatchingStatusCode.MATCHED))


def unmatched(instruction: Instruction) -> m.StatusAdvice:
    # CMIS: no matching instruction found (yet), as T2S says it
    reasons = (m.Reason(code="CMIS", narrative="no counterpart instruction yet"),)
    return _advice(
        instruction, matching=m.MatchingStatus(code=m.MatchingStatusCode.UNMATCHED, reasons=reasons)
    )


def cancellation_requested(instruction: Instruction) -> m.StatusAdvice:
    """To the counterparty of a matched instruction whose other side asked to cancel: it is cancelled
    once this side asks too."""
    return _advice(
        instruction, processing=m.ProcessingStatus(code=m.ProcessingStatusCode.CANCELLATION_REQUESTED)
    )


def cancelled(instruction: Instruction, *, reason: str, why: str) -> m.StatusAdvice:
    reasons = (m.Reason(code=reason, narrative=narrative(why)),)
    return _advice(
        instruction, processing=m.ProcessingStatus(code=m.ProcessingStatusCode.CANCELLED, reasons=reasons)
    )


def cancellation_status(
    request: m.CancellationRequest, status: m.ProcessingStatus, instruction: Instruction | None = None
) -> m.CancellationStatus:
    """The answer to a cancellation request (sese.027; MT548 for a cancellation). sese.027 carries the
    account and the instruction's details all together or not at all."""
    details = {}
    if instruction is not None:
        details = {
            "account_servicer_transaction_id": f"HUBI{instruction.pk}",
            "safekeeping_account": instruction.account.number,
            "account_owner_bic": instruction.participant.bic,
            "security": m.Security(isin=instruction.security.isin),
            "quantity": quantity_of(instruction),
            "intended_settlement_date": instruction.intended_settlement_date,
        }
    return m.CancellationStatus(
        cancellation_request_reference=request.business_message_id or request.transaction_id,
        transaction_id=request.transaction_id,
        side=request.side,
        payment=request.payment,
        processing=status,
        **details,
    )


def cancellation_denied(
    instruction: Instruction, *, request: m.CancellationRequest | None, reason: str, why: str
) -> m.CancellationStatus:
    """The final answer to a cancellation that waited for the counterparty's while the instruction was
    matched: denied (sese.027 Dnd; MT548 :25D::CPRC//DEND), for ``reason`` (DPRG once settlement has
    started, DSET once settled). ``request`` is the cancellation as it was received, or None when it is
    not known (it is then named by the instruction's reference)."""
    request = request or m.CancellationRequest(
        transaction_id=instruction.transaction_id,
        side=m.Side(instruction.side),
        payment=m.Payment.FREE,
        safekeeping_account=instruction.account.number,
    )
    status = m.ProcessingStatus(
        code=m.ProcessingStatusCode.DENIED, reasons=(m.Reason(code=reason, narrative=narrative(why)),)
    )
    return cancellation_status(request, status, instruction)


def rejected(transaction_id: str, reasons: list[tuple[str, str]]) -> m.StatusAdvice:
    """The answer to a message the hub refuses: every reason code with its narrative."""
    return m.StatusAdvice(
        transaction_id=transaction_id or "NONREF",
        processing=m.ProcessingStatus(
            code=m.ProcessingStatusCode.REJECTED,
            reasons=tuple(m.Reason(code=str(code), narrative=narrative(text)) for code, text in reasons)
            or (m.Reason(code=ReasonCode.OTHER),),
        ),
    )


def notify(instruction: Instruction, body: m.Message, *, status: str) -> None:
    """Queue ``body`` for the instruction's participant, in the transaction of the change it reports."""
    outbound_enqueue(
        participant=instruction.participant,
        body=body,
        transaction_id=instruction.transaction_id,
        status=status,
    )


def pending(instruction: Instruction, *, reason: str, why: str = "") -> m.StatusAdvice:
    """Settlement waits (sese.024 SttlmSts Pdg), e.g. for lack of securities (LACK)."""
    reasons = (m.Reason(code=reason, narrative=narrative(why) if why else None),)
    status = m.SettlementStatus(code=m.SettlementStatusCode.PENDING, reasons=reasons)
    return _advice(instruction, settlement=status)


def failed(instruction: Instruction, *, reason: str, why: str) -> m.StatusAdvice:
    """Settlement failed for good and everything reserved was released: cancelled by the system, with
    the failure's reason code in the narrative (e.g. LACK at the CSD's cut-off)."""
    text = (
        f"settlement failed ({reason or 'OTHR'}): {why}" if why else f"settlement failed ({reason or 'OTHR'})"
    )
    return cancelled(instruction, reason=CANCELLED_BY_SYSTEM, why=text)


def confirmation(instruction: Instruction, *, settled_on) -> m.SettlementConfirmation:
    """sese.025 (MT544-547): the instruction settled, in full."""
    return m.SettlementConfirmation(
        transaction_id=instruction.transaction_id,
        account_servicer_transaction_id=f"HUBI{instruction.pk}",
        market_infrastructure_transaction_id=f"HUBT{instruction.transfer_id}",
        side=m.Side(instruction.side),
        payment=m.Payment.FREE,
        effective_settlement_date=settled_on,
        trade_date=instruction.trade_date,
        common_trade_reference=instruction.common_trade_reference or None,
        security=m.Security(isin=instruction.security.isin),
        settled_quantity=quantity_of(instruction),
        safekeeping_account=instruction.account.number,
        account_owner_bic=instruction.participant.bic,
        counterparty=m.Counterparty(
            bic=instruction.counterparty_bic,
            csd_bic=instruction.counterparty_csd.bic,
            safekeeping_account=instruction.counterparty_account or None,
        ),
    )
