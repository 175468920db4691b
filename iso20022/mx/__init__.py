"""ISO 20022 MX messages: hardened parsing, usage-guideline validation, parsing into and building from
``iso20022.models``.

    from iso20022 import mx
    message = mx.parse(raw_bytes)          # MxMessage(message_id, body, header)
    xml = mx.build(model, header=header)   # bytes: bare Document, or the hub envelope with a header

Supported versions: ``mx.supported()``; see ``iso20022.mx.registry``.
"""

from iso20022.mx.codec import (
    ENVELOPE_NAMESPACE,
    ENVELOPE_ROOT,
    MxMessage,
    build,
    build_document,
    message_id_for,
    parse,
    validate,
)
from iso20022.mx.registry import supported
from iso20022.mx.safexml import DEFAULT_LIMITS, Limits

__all__ = [
    "DEFAULT_LIMITS",
    "ENVELOPE_NAMESPACE",
    "ENVELOPE_ROOT",
    "Limits",
    "MxMessage",
    "build",
    "build_document",
    "message_id_for",
    "parse",
    "supported",
    "validate",
]
