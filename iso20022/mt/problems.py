"""Recording a fault while reading a FIN message.

Parsers collect every fault as a ``MessageError`` (reason code from ``iso20022.errors.ReasonCode``, the
ones a sese.024 or an MT548 ``:24B::REJT//`` carries; line; path) and raise once with all of them.
"""

from iso20022.errors import MessageError, ReasonCode


def problem(
    errors: list[MessageError],
    message: str,
    line: int | None = None,
    path: str | None = None,
    reason: ReasonCode = ReasonCode.OTHER,
) -> None:
    errors.append(MessageError(reason=reason, message=message, line=line, path=path))
