"""Strict readers for configuration from environment variables.

Each reader either returns a value of the right type or stops start-up with a message that names the
variable and what it expected. A variable that is set but empty counts as unset.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def envstr(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def envbool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use one of {sorted(_TRUE | _FALSE)}")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum of {minimum}")
    return number


def envchoice(name: str, default: str, *, choices: tuple[str, ...]) -> str:
    """One of ``choices``, given in any case (returned as ``choices`` spells it)."""
    value = _raw(name)
    if value is None:
        return default
    found = next((choice for choice in choices if choice.lower() == value.lower()), None)
    if found is None:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}")
    return found


def envlist(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list; blanks around items are dropped."""
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]
