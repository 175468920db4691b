"""Reading mandatory content out of a parsed FIN tree, and writing a tree from values.

``Reader`` is how the per-message mappings say what they need: each ``need``/``seq`` call records a
``MessageError`` (reason code, line of the enclosing sequence, path such as ``TRADDET/:98a::SETT``)
when the field or sequence is missing, so one pass reports every missing item. ``S`` and ``F`` build
sequences and fields for the builders, skipping ``None``.
"""

from __future__ import annotations

import datetime as dt

from iso20022.errors import BuildError, InvalidContent, MessageError, ReasonCode
from iso20022.mt.fields import Field, FieldFormatError, make_field
from iso20022.mt.fin import Sequence
from iso20022.mt.problems import problem


class Reader:
    def __init__(self, message_type: str):
        self.message_type = message_type
        self.errors: list[MessageError] = []

    def seq(
        self,
        parent: Sequence | None,
        name: str,
        *,
        required: bool = True,
        reason: ReasonCode = ReasonCode.OTHER,
    ) -> Sequence | None:
        if parent is None:
            return None
        found = parent.sequence(name)
        if found is None and required:
            problem(
                self.errors,
                f"MT{self.message_type}: mandatory sequence {name} is missing",
                parent.line or None,
                _path(parent, name),
                reason,
            )
        return found

    def need(
        self,
        parent: Sequence | None,
        tag: str,
        qualifier: str | None = None,
        reason: ReasonCode = ReasonCode.OTHER,
        *,
        required: bool = True,
    ) -> object:
        if parent is None:
            return None
        found = parent.field(tag, qualifier)
        if found is None:
            if required:
                label = f":{tag}:" + (f":{qualifier}" if qualifier else "")
                problem(
                    self.errors,
                    f"MT{self.message_type}: mandatory field {label} is missing",
                    parent.line or None,
                    _path(parent, label),
                    reason,
                )
            return None
        if tag == "98a":
            return self._date(parent, found, reason)
        return found.value

    def _date(self, parent: Sequence, found: Field, reason: ReasonCode) -> dt.date | None:
        """98A is a date, 98C/98E a date and time (the date is kept); 98B is a code (e.g. UKWN)."""
        if isinstance(found.value, dt.datetime):
            return found.value.date()
        if isinstance(found.value, dt.date):
            return found.value
        problem(
            self.errors,
            f"MT{self.message_type}: :{found.tag}::{found.qualifier}//{found.value} gives no "
            "date; the hub needs one",
            found.line,
            _path(parent, f":{found.tag}::{found.qualifier}"),
            reason,
        )
        return None

    def optional(self, parent: Sequence | None, tag: str, qualifier: str | None = None) -> object:
        return self.need(parent, tag, qualifier, required=False)

    def function(self, genl: Sequence | None, *allowed: str) -> str | None:
        """The message function of ``:23G:`` (``NEWM``, ``CANC`` ...), refused unless in ``allowed``."""
        value = self.need(genl, "23G", reason=ReasonCode.UNSUPPORTED)
        if value is None:
            return None
        function = str(value).split("/")[0]
        if function not in allowed:
            found = genl.field("23G")
            problem(
                self.errors,
                f"MT{self.message_type}: function :23G:{function} is not one the hub reads "
                f"({', '.join(allowed)})",
                found.line if found else None,
                _path(genl, ":23G:"),
                ReasonCode.UNSUPPORTED,
            )
        return function

    def code(
        self,
        parent: Sequence | None,
        tag: str,
        qualifier: str,
        allowed: type,
        reason: ReasonCode = ReasonCode.OTHER,
        *,
        required: bool = True,
    ):
        """A coded field whose value must be a member of the ``StrEnum`` ``allowed``."""
        value = self.need(parent, tag, qualifier, reason, required=required)
        if value is None:
            return None
        try:
            return allowed(value)
        except ValueError:
            found = parent.field(tag, qualifier)
            problem(
                self.errors,
                f"MT{self.message_type}: :{tag}::{qualifier}//{value} is not one of "
                f"{', '.join(m.value for m in allowed)}",
                found.line if found else None,
                _path(parent, f":{tag}::{qualifier}"),
                reason,
            )
            return None

    def fail(
        self, message: str, at: Sequence | Field | None = None, reason: ReasonCode = ReasonCode.OTHER
    ) -> None:
        problem(self.errors, f"MT{self.message_type}: {message}", at.line if at else None, None, reason)

    def check(self) -> None:
        if self.errors:
            raise InvalidContent(self.errors)


def _path(parent: Sequence, leaf: str) -> str:
    return f"{parent.name}/{leaf}" if parent.name else leaf


def F(tag: str, qualifier: str | None, value: object, issuer: str | None = None) -> Field | None:  # noqa: N802
    """A field from a typed value; ``None`` when the value is ``None`` (an absent optional field)."""
    if value is None:
        return None
    try:
        return make_field(tag, qualifier, value, issuer)
    except (FieldFormatError, ValueError) as exc:
        label = f":{tag}:" + (f":{qualifier}" if qualifier else "")
        reason = ReasonCode.REFERENCE if tag == "20C" else getattr(exc, "reason", ReasonCode.OTHER)
        raise BuildError(
            MessageError(reason=reason, message=f"cannot write {label}: {exc}", path=label)
        ) from exc


def S(name: str, *items: Field | Sequence | None) -> Sequence:  # noqa: N802
    """A sequence of the non-``None`` items."""
    return Sequence(name, [item for item in items if item is not None])


def S_if(name: str, *items: Field | Sequence | None) -> Sequence | None:  # noqa: N802
    """A sequence, or ``None`` when none of its items is present."""
    sequence = S(name, *items)
    return sequence if sequence.items else None
