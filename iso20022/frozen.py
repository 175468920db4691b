"""Frozen, slotted, keyword-only dataclasses that are quick to make.

The models of this library are made by the thousand on every message path: each message read or written
is a tree of them. A frozen dataclass's own ``__init__`` sets each field with ``object.__setattr__(self,
name, value)``, the way round the ``__setattr__`` that refuses changes, which looks the name up on the class
again for every field of every object. ``frozen`` makes the same dataclass and gives it an ``__init__``
that calls each field's slot descriptor directly: about half the time, for the same object.

Nothing else changes: the same keyword-only signature with the same defaults, ``__post_init__`` still
called last, and the class still frozen (its ``__setattr__`` and ``__delattr__`` refuse, ``replace`` makes
a changed copy). A class the fast ``__init__`` cannot stand in for (a default factory, an ``InitVar``, a
field left out of ``__init__``) keeps the dataclass's own.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import TypeVar

T = TypeVar("T", bound=type)

_FILENAME = "<iso20022.frozen>"


def frozen(cls: T) -> T:
    """``@dataclass(frozen=True, slots=True, kw_only=True)``, with the quicker ``__init__``."""
    cls = dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)
    fields = dataclasses.fields(cls)
    names = [field.name for field in fields]
    if list(inspect.signature(cls.__init__).parameters)[1:] != names or any(
        field.default_factory is not dataclasses.MISSING for field in fields
    ):
        return cls
    namespace: dict[str, object] = {}
    parameters, body = [], []
    for field in fields:
        namespace[f"_set_{field.name}"] = getattr(cls, field.name).__set__
        if field.default is dataclasses.MISSING:
            parameters.append(field.name)
        else:
            namespace[f"_default_{field.name}"] = field.default
            parameters.append(f"{field.name}=_default_{field.name}")
        body.append(f"    _set_{field.name}(self, {field.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    signature = f"self, *, {', '.join(parameters)}" if parameters else "self"
    source = f"def __init__({signature}):\n" + "\n".join(body or ["    pass"]) + "\n"
    exec(compile(source, _FILENAME, "exec"), namespace)  # noqa: S102 (names and defaults of our own fields)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init
    return cls


def has_quick_init(cls: type) -> bool:
    """Whether ``cls`` got the quicker ``__init__`` (for the tests)."""
    return cls.__init__.__code__.co_filename == _FILENAME
