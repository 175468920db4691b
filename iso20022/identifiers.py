"""Identifier checks shared by MX and MT: ISIN (ISO 6166) check digit and BIC (ISO 9362) shape."""

from __future__ import annotations

import re

_ISIN = re.compile(r"[A-Z]{2}[A-Z0-9]{9}[0-9]")
_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")


def isin_check_digit(first_eleven: str) -> str:
    """The ISIN check digit: letters become two digits (A=10 ... Z=35), then the Luhn algorithm."""
    digits = "".join(str(int(c, 36)) for c in first_eleven)
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def isin_is_valid(isin: str) -> bool:
    return bool(_ISIN.fullmatch(isin)) and isin_check_digit(isin[:11]) == isin[11]


def bic_is_valid(bic: str) -> bool:
    return bool(_BIC.fullmatch(bic))
