"""Field validators for reference data, each delegating to a maintained library.

ISIN, BIC and LEI check digits and formats come from python-stdnum, country and currency codes from
pycountry (ISO 3166 / ISO 4217), time zones from the IANA database shipped with Python (zoneinfo and
tzdata), business-day calendars from the holidays package. The same checks back the database
functions in ``dbfunctions`` so that a row written around the ORM is refused too.
"""

import base64
import binascii
import math
import zoneinfo
from functools import cache
from urllib.parse import urlsplit

import holidays
import pycountry
from django.core.exceptions import ValidationError
from stdnum import bic as stdnum_bic
from stdnum import isin as stdnum_isin
from stdnum import lei as stdnum_lei
from stdnum.exceptions import ValidationError as StdnumError


def _stdnum(module, value: str, what: str, written: str) -> None:
    try:
        module.validate(value)
    except StdnumError as exc:
        raise ValidationError(f"{value!r} is not a valid {what}: {exc}", code="invalid") from None
    # python-stdnum validates the compact form (upper case, blanks and line breaks dropped); the registry
    # and the database's CHECK constraints hold that form only
    if value != module.compact(value):
        raise ValidationError(f"{value!r}: write {written}", code="invalid")


def validate_isin(value: str) -> None:
    _stdnum(stdnum_isin, value, "ISIN (ISO 6166)", "an ISIN in upper case without spaces")


def validate_bic(value: str) -> None:
    _stdnum(stdnum_bic, value, "BIC (ISO 9362)", "a BIC as 8 or 11 upper-case characters")


def validate_lei(value: str) -> None:
    _stdnum(stdnum_lei, value, "LEI (ISO 17442)", "an LEI as 20 upper-case characters without spaces")


def validate_country(value: str) -> None:
    if pycountry.countries.get(alpha_2=value) is None or value != value.upper():
        raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code", code="invalid")


def validate_currency(value: str) -> None:
    if pycountry.currencies.get(alpha_3=value) is None or value != value.upper():
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code", code="invalid")


# In the system's zone folder but no place's zone: the machine's own zone (a CSD's business day and cut-off
# would follow the server's), the template of POSIX rules, and IANA's placeholder for "unknown".
NOT_A_PLACE = frozenset({"localtime", "posixrules", "Factory"})


@cache
def iana_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - NOT_A_PLACE


def validate_timezone(value: str) -> None:
    if value not in iana_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Moscow)", code="invalid")


def validate_calendar(value: str) -> None:
    if value not in holidays.list_supported_countries():
        raise ValidationError(
            f"{value!r} is not a business-day calendar the hub knows; use a country code of the "
            "holidays package (e.g. RU, ZA)",
            code="invalid",
        )


def validate_ed25519_public_key(value: str) -> None:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(
            "an Ed25519 public key is 32 bytes in standard base64", code="invalid"
        ) from None
    if len(raw) != 32:
        raise ValidationError(f"an Ed25519 public key is 32 bytes, this one is {len(raw)}", code="invalid")


# what a CSD row's adapter_config may hold (hub.registry.adapters reads it)
ADAPTER_CONFIG_KEYS = ("base_url", "connect_timeout", "read_timeout")
ADAPTER_TIMEOUT_KEYS = ("connect_timeout", "read_timeout")


def _http_url(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(url.hostname)


def _positive_seconds(value) -> bool:
    if isinstance(value, bool):
        return False
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(seconds) and seconds > 0


def adapter_config_problems(config) -> list[str]:
    """What is wrong with a CSD's adapter_config, in words an operator can act on (empty: nothing)."""
    if not isinstance(config, dict):
        return [f"an object with {', '.join(ADAPTER_CONFIG_KEYS)}, not {type(config).__name__}"]
    problems = [
        f"unknown key {key!r} (known: {', '.join(ADAPTER_CONFIG_KEYS)})"
        for key in config
        if key not in ADAPTER_CONFIG_KEYS
    ]
    if "base_url" in config and not _http_url(config["base_url"]):
        problems.append(f"base_url {config['base_url']!r} is not an http or https URL with a host")
    problems += [
        f"{key} {config[key]!r} is not a positive number of seconds"
        for key in ADAPTER_TIMEOUT_KEYS
        if key in config and not _positive_seconds(config[key])
    ]
    return problems


def isin_is_valid(value: str | None) -> bool:
    return value is not None and stdnum_isin.is_valid(value) and value == stdnum_isin.compact(value)


def timezone_is_valid(value: str | None) -> bool:
    return value is not None and value in iana_timezones()
