"""Identifier checks shared by MX and MT: ISIN (ISO 6166) check digit and BIC (ISO 9362) shape."""

from __future__ import annotations

import re
from functools import lru_cache

_ISIN = re.compile(r"[A-Z]{2}[A-Z0-9]{9}[0-9]")
_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")


_LETTER_DIGITS = {ord(c): str(ord(c) - ord("A") + 10) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_DOUBLED = {str(d): (2 * d if d < 5 else 2 * d - 9) for d in range(10)}.__getitem__


def isin_check_digit(first_eleven: str) -> str:
    """The ISIN check digit: letters become two digits (A=10 ... Z=35), then the Luhn algorithm
    (every second digit from the right doubled, digits of the products summed)."""
    digits = first_eleven.translate(_LETTER_DIGITS)
    total = sum(map(_DOUBLED, digits[-1::-2])) + sum(map(int, digits[-2::-2]))
    return str((10 - total % 10) % 10)


@lru_cache(maxsize=4096)
def isin_is_valid(isin: str) -> bool:
    """Kept for each distinct value: a CSD's traffic repeats a few thousand ISINs at most, and every
    message it reads checks one or more."""
    return bool(_ISIN.fullmatch(isin)) and isin_check_digit(isin[:11]) == isin[11]


def bic_is_valid(bic: str) -> bool:
    return bool(_BIC.fullmatch(bic))
