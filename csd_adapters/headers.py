"""Block headers of the hub's shared ledger, as a CSD reads them before it endorses one.

The rules are those of ``hub/ledger/verifier.py`` (canonical JSON: keys sorted, no blanks, UTF-8; the
header's fields and their forms), restated here because ``csd_adapters`` never imports the hub; a test
holds the two to each other. A CSD checks what it can without the hub's database: that the bytes are a
header, that the header names it, and (in its own books) that it never endorses two headers of one
height. It endorses only the blocks that name it, so it cannot check that a header follows the one
before it.
"""

from __future__ import annotations

import hashlib
import json
import re

from csd_adapters.base import NotABlockHeader

HEADER_VERSION = 1
HEADER_FIELDS = frozenset(
    {"version", "height", "previous_hash", "merkle_root", "entry_count", "sealed_at", "hub_key_id", "csds"}
)
MAX_HEADER_BYTES = 64_000
HEX64 = re.compile(r"[0-9a-f]{64}")
KEY_ID = re.compile(r"[0-9a-f]{16}")
MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical(value: dict) -> bytes:
    return _ENCODER.encode(value).encode("utf-8")


def header_hash(data: bytes) -> str:
    """The block hash: the SHA-256 of the header's bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def read_header(data: bytes) -> dict:
    """The header the bytes are, or NotABlockHeader saying why they are none."""
    if len(data) > MAX_HEADER_BYTES:
        raise NotABlockHeader(f"{len(data)} bytes: a block header is far smaller")
    try:
        header = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise NotABlockHeader("not JSON in UTF-8") from None
    if not isinstance(header, dict) or set(header) != HEADER_FIELDS:
        raise NotABlockHeader(
            f"not an object with exactly the header's fields: {', '.join(sorted(HEADER_FIELDS))}"
        )
    problems = [name for name, holds in _FORMS.items() if not holds(header[name])]
    if problems:
        raise NotABlockHeader(f"fields not in a header's form: {', '.join(problems)}")
    if canonical(header) != data:
        raise NotABlockHeader("not in canonical form (keys sorted, no blanks, UTF-8)")
    return header


def _whole(value, *, least: int) -> bool:
    return type(value) is int and value >= least


def _matches(pattern: re.Pattern):
    return lambda value: type(value) is str and pattern.fullmatch(value) is not None


def _codes(value) -> bool:
    """CSD codes as the hub's ledger writes them: sorted, each once, none empty or holding a comma."""
    return (
        type(value) is list
        and all(type(code) is str and 0 < len(code) <= 16 and "," not in code for code in value)
        and value == sorted(set(value))
    )


_FORMS = {
    "version": lambda value: type(value) is int and value == HEADER_VERSION,
    "height": lambda value: _whole(value, least=1),
    "previous_hash": _matches(HEX64),
    "merkle_root": _matches(HEX64),
    "entry_count": lambda value: _whole(value, least=1),
    "sealed_at": _matches(MOMENT),
    "hub_key_id": _matches(KEY_ID),
    "csds": _codes,
}
