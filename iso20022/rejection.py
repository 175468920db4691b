"""Turn a refused message into the status advice that tells its sender why (sese.024 / MT548 REJT).

try:
    message = mx.parse(raw)
except Iso20022Error as exc:
    advice = rejection_advice(exc, transaction_id=reference_or_nonref)
    outbound = mx.build(advice)
"""

from __future__ import annotations

from iso20022.errors import Iso20022Error, MessageError
from iso20022.models import ProcessingStatus, ProcessingStatusCode, Reason, StatusAdvice

NO_REFERENCE = "NONREF"
_NARRATIVE_LIMIT = 210
_MAX_REASONS = 5


def rejection_reasons(errors: tuple[MessageError, ...]) -> tuple[Reason, ...]:
    """One ISO reason per error (at most five), the narrative saying what and where, cut to 210 chars."""
    return tuple(
        Reason(code=error.reason.value, narrative=_cut(str(error))) for error in errors[:_MAX_REASONS]
    )


def rejection_advice(
    error: Iso20022Error,
    *,
    transaction_id: str | None = None,
    account_servicer_transaction_id: str | None = None,
) -> StatusAdvice:
    """A processing status REJECTED with the error's reason codes; ``NONREF`` when the sender's reference
    could not be read."""
    return StatusAdvice(
        transaction_id=transaction_id or NO_REFERENCE,
        account_servicer_transaction_id=account_servicer_transaction_id,
        processing=ProcessingStatus(
            code=ProcessingStatusCode.REJECTED, reasons=rejection_reasons(error.errors)
        ),
    )


def _cut(text: str) -> str:
    return text if len(text) <= _NARRATIVE_LIMIT else text[: _NARRATIVE_LIMIT - 3] + "..."
