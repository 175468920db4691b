"""ISO 15022 field formats: the value of one block 4 field, split and typed.

A generic field carries a qualifier and, for some options, a data source scheme (issuer):
``:98A::SETT//20261124`` is tag ``98A``, qualifier ``SETT``, no issuer, value ``20261124``;
``:22F::SETR/XSTR/TRAD`` has issuer ``XSTR``. Each known tag has a format that turns the
value into Python types (dates, ``Decimal`` quantities, codes); a value that does not fit its
format is a ``FieldFormatError`` naming the reason code to report it with.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from iso20022.errors import ReasonCode
from iso20022.identifiers import bic_is_valid

REASON_FORMAT = ReasonCode.OTHER
REASON_DATE = ReasonCode.SETTLEMENT_DATE
REASON_QUANTITY = ReasonCode.QUANTITY
REASON_SECURITY = ReasonCode.SECURITY
REASON_AMOUNT = ReasonCode.AMOUNT
REASON_REFERENCE = ReasonCode.REFERENCE


class FieldFormatError(ValueError):
    """A field value that does not fit the format of its tag."""

    def __init__(self, message: str, reason: str = REASON_FORMAT):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Quantity:
    """``36B``: a quantity of financial instrument, e.g. ``UNIT/100,`` or ``FAMT/2500000,``."""

    kind: str  # UNIT (units), FAMT (face amount), AMOR (amortised value)
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Balance:
    """``93B``: a balance, e.g. ``AGGR//UNIT/1000,`` (negative with ``N``)."""

    kind: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class BalanceDetail:
    """``93C``: a sub-balance, e.g. ``:93C::BLOK//UNIT/NAVL/100,`` (qualifier = the sub-balance type)."""

    kind: str
    availability: str  # AVAI (available) or NAVL (not available)
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PlaceCode:
    """``94F``: a place with a code and a BIC, e.g. ``:94F::SAFE//NCSD/NADCRUMM``."""

    code: str
    bic: str


@dataclass(frozen=True, slots=True)
class Amount:
    """``19A``: an amount with its currency, e.g. ``SETT//EUR1000,50``."""

    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class SecurityId:
    """``35B``: ``ISIN US0378331005`` and up to four lines of description."""

    isin: str | None
    description: str


@dataclass(frozen=True, slots=True)
class Period:
    """``69A``: a period from one date to another."""

    start: date
    end: date


class Field(NamedTuple):
    """One block 4 field as it stands in the message, with its typed value.

    ``raw`` is the text after ``:TAG:`` with lines joined by ``\\n``; ``value`` is the typed
    content (a ``date``, ``Quantity``, ``str`` code...); ``line`` is its 1-based line in the message.

    A named tuple, immutable like the frozen dataclasses of the rest: a message makes one per field, and
    a tuple is made in a third of a frozen dataclass's time.
    """

    tag: str
    raw: str
    qualifier: str | None = None
    issuer: str | None = None
    value: object = None
    line: int = 0

    @property
    def option(self) -> str:
        return self.tag[2:]

    def matches(self, tag: str, qualifier: str | None = None) -> bool:
        """``tag`` may end in a lower-case ``a`` meaning "any option" (``98a`` matches ``98A``, ``98C``)."""
        if tag.endswith("a") and len(tag) == 3:
            if self.tag[:2] != tag[:2]:
                return False
        elif self.tag != tag:
            return False
        return qualifier is None or self.qualifier == qualifier


_CHARSET_X = re.compile(r"^[A-Za-z0-9/\-?:().,'+ \n]*$")
_GENERIC = re.compile(r"^:([A-Z0-9]{4})/([A-Za-z0-9]{0,8})/(.*)$", re.DOTALL)
_DECIMAL = re.compile(r"^\d+,\d*$")
_DATE8 = re.compile(r"^\d{8}$")
_CODE4 = re.compile(r"^[A-Z0-9]{4}$")


def parse_decimal(text: str, max_length: int = 15) -> Decimal:
    """A SWIFT decimal: digits, one mandatory comma, at most 15 characters (``100,`` or ``0,5``)."""
    if len(text) > max_length or not _DECIMAL.match(text):
        raise FieldFormatError(f"{text!r} is not a SWIFT decimal (digits with one comma, e.g. 100,)")
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guarantees a number
        raise FieldFormatError(f"{text!r} is not a number") from exc


def format_decimal(amount: Decimal) -> str:
    """``Decimal('100') -> '100,'``, ``Decimal('2.50') -> '2,5'``; never an exponent."""
    if amount < 0:
        raise ValueError("SWIFT decimals carry no sign; use the N prefix of the field")
    text = format(amount, "f")
    if "." in text:
        whole, fraction = text.split(".")
        fraction = fraction.rstrip("0")
    else:
        whole, fraction = text, ""
    return f"{whole or '0'},{fraction}"


def parse_date(text: str) -> date:
    if not _DATE8.match(text):
        raise FieldFormatError(f"{text!r} is not a date (YYYYMMDD)", REASON_DATE)
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError as exc:
        raise FieldFormatError(f"{text!r} is not a calendar date", REASON_DATE) from exc


def format_date(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _parse_datetime(text: str) -> datetime:
    if not re.match(r"^\d{14}$", text):
        raise FieldFormatError(f"{text!r} is not a date and time (YYYYMMDDHHMMSS)", REASON_DATE)
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise FieldFormatError(f"{text!r} is not a valid date and time", REASON_DATE) from exc


def _parse_datetime_utc(text: str) -> datetime:
    """``98E``: ``YYYYMMDDHHMMSS[,ddd][/[N]HH[MM]]``; the decimals and UTC offset are dropped."""
    return _parse_datetime(re.split(r"[,/]", text, maxsplit=1)[0])


def _code(text: str) -> str:
    if not _CODE4.match(text):
        raise FieldFormatError(f"{text!r} is not a four-character code")
    return text


QUANTITY_TYPES = ("UNIT", "FAMT")  # the hub settles units and face amounts; AMOR (amortised) is refused


def _quantity_type(kind: str, text: str) -> None:
    if kind not in QUANTITY_TYPES:
        raise FieldFormatError(
            f"quantity type {kind!r} in {text!r} is not one the hub reads ({', '.join(QUANTITY_TYPES)})",
            REASON_QUANTITY,
        )


def _quantity(text: str) -> Quantity:
    kind, sep, number = text.partition("/")
    if not sep or not _CODE4.match(kind):
        raise FieldFormatError(f"{text!r} is not a quantity (TYPE/number, e.g. UNIT/100,)", REASON_QUANTITY)
    _quantity_type(kind, text)
    try:
        return Quantity(kind, parse_decimal(number))
    except FieldFormatError as exc:
        raise FieldFormatError(f"quantity {exc}", REASON_QUANTITY) from exc


def _balance(text: str) -> Balance:
    kind, sep, number = text.partition("/")
    if not sep or not _CODE4.match(kind):
        raise FieldFormatError(f"{text!r} is not a balance (TYPE/[N]number)", REASON_QUANTITY)
    _quantity_type(kind, text)
    negative = number.startswith("N")
    try:
        amount = parse_decimal(number[1:] if negative else number)
    except FieldFormatError as exc:
        raise FieldFormatError(f"balance {exc}", REASON_QUANTITY) from exc
    return Balance(kind, -amount if negative else amount)


def _balance_detail(text: str) -> BalanceDetail:
    parts = text.split("/")
    if len(parts) != 3 or not _CODE4.match(parts[0]) or parts[1] not in ("AVAI", "NAVL"):
        raise FieldFormatError(f"{text!r} is not a sub-balance (TYPE/AVAI|NAVL/[N]number)", REASON_QUANTITY)
    balance = _balance(f"{parts[0]}/{parts[2]}")
    return BalanceDetail(parts[0], parts[1], balance.amount)


def _place_code(text: str) -> PlaceCode:
    code, sep, bic = text.partition("/")
    if not sep or not _CODE4.match(code):
        raise FieldFormatError(f"{text!r} is not a place (CODE/BIC)")
    return PlaceCode(code, _bic(bic))


AMOUNT_DECIMALS = 5  # what ISO 20022 amounts carry (ActiveCurrencyAndAmount: fractionDigits 5)


def _amount(text: str) -> Amount:
    negative = text.startswith("N")
    body = text[1:] if negative else text
    currency, number = body[:3], body[3:]
    if not re.match(r"^[A-Z]{3}$", currency):
        raise FieldFormatError(f"{text!r} is not an amount (CCY and number, e.g. EUR1000,)")
    amount = parse_decimal(number)
    if amount.normalize().as_tuple().exponent < -AMOUNT_DECIMALS:
        raise FieldFormatError(f"{text!r} has more than {AMOUNT_DECIMALS} decimal places", REASON_AMOUNT)
    return Amount(currency, -amount if negative else amount)


def _bic(text: str) -> str:
    if not bic_is_valid(text):
        raise FieldFormatError(f"{text!r} is not a BIC")
    return text


def _security(text: str) -> SecurityId:
    first, _, rest = text.partition("\n")
    if first.startswith("ISIN "):
        isin = first[5:]
        if not re.match(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$", isin):
            raise FieldFormatError(f"{isin!r} is not an ISIN", REASON_SECURITY)
        _description(rest)
        return SecurityId(isin, rest)
    if not first.strip():
        raise FieldFormatError("35B has neither an ISIN nor a description", REASON_SECURITY)
    _description(text)
    return SecurityId(None, text)


def _description(text: str) -> None:
    """35B's description: at most 4 lines of 35 characters (4*35x)."""
    lines = text.split("\n") if text else []
    if len(lines) > 4 or any(len(line) > 35 for line in lines):
        raise FieldFormatError("a 35B description holds at most 4 lines of 35 characters", REASON_SECURITY)


def _reference(limit: int):
    """A reference (16x): besides its length, FIN's rule T26: it neither starts nor ends with a slash
    and holds no two slashes together."""
    text_of = _text(limit)

    def parse(text: str) -> str:
        text_of(text)
        if text.startswith("/") or text.endswith("/") or "//" in text:
            raise FieldFormatError(
                f"{text!r} starts or ends with '/' or holds '//', which a reference may not", REASON_REFERENCE
            )
        return text

    return parse


def _period(text: str) -> Period:
    start, sep, end = text.partition("/")
    if not sep:
        raise FieldFormatError(f"{text!r} is not a period (YYYYMMDD/YYYYMMDD)", REASON_DATE)
    return Period(parse_date(start), parse_date(end))


def _flag(text: str) -> bool:
    if text not in ("Y", "N"):
        raise FieldFormatError(f"{text!r} is not a flag (Y or N)")
    return text == "Y"


def _text(limit: int, lines: int = 1):
    def parse(text: str) -> str:
        if "\n" in text:
            parts = text.split("\n")
            too_long = len(parts) > lines or max(map(len, parts)) > limit
        else:  # one line, as most are
            too_long = len(text) > limit
        if too_long or not text:
            raise FieldFormatError(f"{text!r} exceeds {lines} line(s) of {limit} characters or is empty")
        return text

    return parse


# tag -> (generic: has qualifier, parser of the value after the qualifier/issuer)
FORMATS: dict[str, tuple[bool, object]] = {
    "98A": (True, parse_date),
    "98C": (True, _parse_datetime),
    "98B": (True, _code),
    "98E": (True, _parse_datetime_utc),
    "69A": (True, _period),
    "36B": (True, _quantity),
    "93A": (True, _code),
    "93B": (True, _balance),
    "19A": (True, _amount),
    "97A": (True, _text(35)),
    "97E": (True, _text(34)),
    "95P": (True, _bic),
    "95Q": (True, _text(35, 4)),
    "95R": (True, _text(34)),
    "95C": (True, _text(2)),
    "95L": (True, _text(20)),
    "94F": (True, _place_code),
    "93C": (True, _balance_detail),
    "94H": (True, _bic),
    "94B": (True, _text(35)),
    "20C": (True, _reference(16)),
    "22F": (True, _code),
    "22H": (True, _code),
    "25D": (True, _code),
    "24B": (True, _code),
    "17B": (True, _flag),
    "13A": (True, _text(3)),
    "13B": (True, _text(30)),
    "99A": (True, _text(4)),
    "70C": (True, _text(35, 4)),
    "70D": (True, _text(35, 6)),
    "70E": (True, _text(35, 10)),
    "35B": (False, _security),
    "16R": (False, _text(16)),
    "16S": (False, _text(16)),
    "23G": (False, _text(9)),
    "28E": (False, _text(10)),
}


def wrap(text: str, width: int = 35) -> str:
    """Text as FIN lines of at most ``width`` characters (``\n`` kept as a line break).

    No line may start with ``:`` or ``-`` (FIN would read a new field or the end of block 4), so a
    break that would start a line with them moves back until it would not. ``unwrap`` is the inverse.
    """
    out: list[str] = []
    for segment in text.split("\n"):
        while len(segment) > width:
            cut = width
            while cut > 1 and segment[cut] in ":-":
                cut -= 1
            out.append(segment[:cut])
            segment = segment[cut:]
        out.append(segment)
    return "\n".join(out)


def _wrapped(previous: str, line: str, width: int) -> bool:
    """Whether ``wrap`` broke a line between ``previous`` and ``line`` (rather than a ``\n``)."""
    if len(previous) == width:
        return True
    moved = width - len(previous)  # a break moved back by ``moved`` characters
    return (
        0 < moved < width
        and previous != ""
        and len(line) > moved
        and line[0] not in ":-"
        and all(char in ":-" for char in line[1 : moved + 1])
    )


def unwrap(text: str, width: int = 35) -> str:
    """Join FIN lines: a full line (or one whose break ``wrap`` moved back) continues on the next."""
    lines = text.split("\n")
    out = lines[0]
    for previous, line in zip(lines, lines[1:], strict=False):
        out += line if _wrapped(previous, line, width) else "\n" + line
    return out


def parse_field(tag: str, raw: str, line: int = 0) -> Field:
    """Split and type one field; unknown tags are kept raw (with their qualifier when generic)."""
    # the tuple made directly: a named tuple's own constructor (keywords, defaults) takes half as long again
    return _new_tuple(Field, (tag, raw, *_typed(tag, raw), line))


_new_tuple = tuple.__new__


@functools.lru_cache(maxsize=16384)
def _typed(tag: str, raw: str) -> tuple[str | None, str | None, object]:
    """(qualifier, issuer, typed value) of a field. Most fields recur from message to message (codes with
    their qualifiers, BICs, accounts, ISINs, dates), and every typed value is immutable, so each distinct
    field is typed once. A bad one raises each time: the cache keeps no exception."""
    if not _CHARSET_X.match(raw):
        raise FieldFormatError(f"{raw!r} has characters outside the SWIFT x character set")
    spec = FORMATS.get(tag)
    generic = _GENERIC.match(raw) if raw.startswith(":") else None
    if spec is None:
        if generic:
            qualifier, issuer, rest = generic.groups()
            return qualifier, issuer or None, rest
        return None, None, raw
    is_generic, parser = spec
    if is_generic:
        if generic is None:
            raise FieldFormatError(f"{raw!r} lacks a qualifier (:QUAL//value)")
        qualifier, issuer, rest = generic.groups()
        return qualifier, issuer or None, parser(rest)
    return None, None, parser(raw)


def generic_raw(qualifier: str, value: str, issuer: str | None = None) -> str:
    """The raw text of a generic field: ``:QUAL//value`` or ``:QUAL/ISSUER/value``."""
    return f":{qualifier}/{issuer or ''}/{value}"


def make_field(tag: str, qualifier: str | None, value: object, issuer: str | None = None) -> Field:
    """Build a field from a typed value (the inverse of ``parse_field``)."""
    if type(value) is str:  # the most frequent value: references, codes, accounts
        text = value
    elif isinstance(value, Quantity):
        text = f"{value.kind}/{format_decimal(value.amount)}"
    elif isinstance(value, Balance):
        sign = "N" if value.amount < 0 else ""
        text = f"{value.kind}/{sign}{format_decimal(abs(value.amount))}"
    elif isinstance(value, BalanceDetail):
        sign = "N" if value.amount < 0 else ""
        text = f"{value.kind}/{value.availability}/{sign}{format_decimal(abs(value.amount))}"
    elif isinstance(value, PlaceCode):
        text = f"{value.code}/{value.bic}"
    elif isinstance(value, Amount):
        sign = "N" if value.amount < 0 else ""
        text = f"{sign}{value.currency}{format_decimal(abs(value.amount))}"
    elif isinstance(value, SecurityId):
        text = f"ISIN {value.isin}" if value.isin else ""
        if value.description:
            text = f"{text}\n{value.description}" if text else value.description
    elif isinstance(value, Period):
        text = f"{format_date(value.start)}/{format_date(value.end)}"
    elif isinstance(value, datetime):
        text = f"{format_date(value)}{value.hour:02d}{value.minute:02d}{value.second:02d}"
    elif isinstance(value, date):
        text = format_date(value)
    elif isinstance(value, bool):
        text = "Y" if value else "N"
    else:
        text = str(value)
    raw = generic_raw(qualifier, text, issuer) if qualifier else text
    if "\n" in raw and any(line[:1] in (":", "-") for line in raw.split("\n")[1:]):
        raise FieldFormatError(f"{raw!r} would start a line with ':' or '-', which FIN forbids")
    return _built(tag, raw)


@functools.lru_cache(maxsize=16384)
def _built(tag: str, raw: str) -> Field:
    """A built field, checked by parsing it back: fields repeat (qualifiers with codes, BICs, dates,
    ISINs), and a Field is immutable, so each distinct one is checked once. A bad one raises each time."""
    return parse_field(tag, raw)
