"""Which MX message versions the hub speaks, and how each is read and written.

One row per message version: identifier, message root element, model, codec module (``build`` /
``parse``) and the hub's usage-guideline schema. Adding a version whose layout the codec already
handles is a new row here plus its guideline schema: a data change, not a rewrite. The namespace of a
version is derived from its identifier (``urn:iso:std:iso:20022:tech:xsd:<id>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType

from iso20022 import models
from iso20022.errors import MessageError, ReasonCode, UnsupportedMessage
from iso20022.mx import (
    head,
    semt002,
    semt013,
    semt014,
    semt015,
    semt017,
    sese020,
    sese023,
    sese024,
    sese025,
    sese027,
)

ISO_NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
_MESSAGE_ID = re.compile(r"([a-z]{4})\.(\d{3})\.(\d{3})\.(\d{2})")


@dataclass(frozen=True, slots=True)
class MessageVersion:
    message_id: str
    root: str
    model: type | None
    codec: ModuleType
    guideline: str

    @property
    def namespace(self) -> str:
        return ISO_NAMESPACE_PREFIX + self.message_id

    @property
    def message_type(self) -> str:
        """``sese.023`` for ``sese.023.001.11``."""
        return self.message_id[:8]


def _row(message_id: str, model: type | None, codec: ModuleType) -> MessageVersion:
    return MessageVersion(message_id, codec.ROOT, model, codec, f"{message_id}.xsd")


HEADER_VERSIONS: tuple[MessageVersion, ...] = (_row("head.001.001.02", models.BusinessHeader, head),)

MESSAGE_VERSIONS: tuple[MessageVersion, ...] = (
    _row("sese.023.001.11", models.SettlementInstruction, sese023),
    _row("sese.024.001.12", models.StatusAdvice, sese024),
    _row("sese.025.001.11", models.SettlementConfirmation, sese025),
    _row("sese.020.001.07", models.CancellationRequest, sese020),
    _row("sese.027.001.07", models.CancellationStatus, sese027),
    _row("semt.002.001.11", models.HoldingsStatement, semt002),
    _row("semt.017.001.12", models.TransactionsStatement, semt017),
    _row("semt.013.001.06", models.IntraPositionMovement, semt013),
    _row("semt.014.001.07", models.IntraPositionStatus, semt014),
    _row("semt.015.001.09", models.IntraPositionConfirmation, semt015),
)

_BY_ID = {v.message_id: v for v in MESSAGE_VERSIONS + HEADER_VERSIONS}
_BY_MODEL: dict[type, MessageVersion] = {}
for _version in MESSAGE_VERSIONS:  # the first row for a model is the version the hub sends
    _BY_MODEL.setdefault(_version.model, _version)


def supported() -> tuple[str, ...]:
    return tuple(v.message_id for v in MESSAGE_VERSIONS)


def for_model(model: object, message_id: str | None = None) -> MessageVersion:
    """The version to build ``model`` as: ``message_id`` if given (it must fit the model), else the
    hub's current one."""
    if message_id is not None:
        version = _BY_ID.get(message_id)
        if version is None or version.model is not type(model):
            raise _unsupported(f"{type(model).__name__} cannot be built as {message_id}")
        return version
    version = _BY_MODEL.get(type(model))
    if version is None:
        raise TypeError(f"not an MX business model: {type(model).__name__}")
    return version


_BY_TAG = {f"{{{v.namespace}}}Document": v for v in MESSAGE_VERSIONS}
_HEADER_BY_TAG = {f"{{{v.namespace}}}{v.root}": v for v in HEADER_VERSIONS}


def accepted(tag: str, *, header: bool = False) -> MessageVersion | None:
    """The version of a ``Document`` (or, ``header=True``, an ``AppHdr``) element by its tag, when the hub
    accepts it; ``None`` otherwise (``for_namespace`` then says why)."""
    return (_HEADER_BY_TAG if header else _BY_TAG).get(tag)


def for_namespace(
    namespace: str | None, *, header: bool = False, path: str | None = None, line: int | None = None
) -> MessageVersion:
    """The version a Document (or, ``header=True``, an AppHdr) namespace names, or ``UnsupportedMessage``
    saying what is accepted instead."""
    accepted = HEADER_VERSIONS if header else MESSAGE_VERSIONS
    what = "business application header" if header else "message"
    if not namespace or not namespace.startswith(ISO_NAMESPACE_PREFIX):
        raise _unsupported(
            f"namespace {namespace!r} is not an ISO 20022 {what} namespace "
            f"({ISO_NAMESPACE_PREFIX}<type>.<variant>.<version>)",
            path=path,
            line=line,
        )
    message_id = namespace[len(ISO_NAMESPACE_PREFIX) :]
    version = _BY_ID.get(message_id)
    if version is not None and version in accepted:
        return version
    if not _MESSAGE_ID.fullmatch(message_id):
        raise _unsupported(
            f"namespace {namespace!r} does not name an ISO 20022 message", path=path, line=line
        )
    same_type = [v.message_id for v in accepted if v.message_type == message_id[:8]]
    if same_type:
        raise _unsupported(
            f"{message_id} is not a supported variant or version of {message_id[:8]}; "
            f"the hub accepts {', '.join(same_type)}",
            path=path,
            line=line,
        )
    raise _unsupported(
        f"{message_id} is not a {what} the hub accepts; supported: {', '.join(v.message_id for v in accepted)}",
        path=path,
        line=line,
    )


def _unsupported(message: str, *, path: str | None = None, line: int | None = None) -> UnsupportedMessage:
    return UnsupportedMessage(
        MessageError(reason=ReasonCode.UNSUPPORTED, message=message, path=path, line=line)
    )
