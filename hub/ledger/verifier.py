"""Standalone verifier of the hub's shared ledger: canonical bytes, RFC 6962 Merkle trees, block headers,
hub signatures, CSD endorsements, inclusion proofs and whole chains.

This file is the one a CSD copies to check the ledger on its own, offline, with public keys alone. It
imports only the standard library and PyNaCl: nothing from Django, nothing from the hub. The hub uses the
same functions to build what this file checks, so there is one definition of the bytes that are hashed
and signed.

Command line (run the file itself, so that nothing of the hub is imported)::

    python hub/ledger/verifier.py proof.json --keys keys.json [--rpc http://127.0.0.1:8545 --contract 0x...]

With ``--rpc`` the block's root is also read back from the anchor contract through that EVM node (a CSD's
own Besu node, say), with the standard library's HTTP client.
``keys.json`` says whose each trusted key is: ``{"hub": {"<key id>": "<base64>"}, "csds": {"NSD": {"<key
id>": "<base64>"}, ...}}`` (Ed25519 public keys). A hub key counts only for the hub's signature and a CSD's
key only for that CSD's endorsement, so no one key can stand in for a party it does not belong to. With
``--contract`` the anchor contract is the one given, whatever the proof names. The exit status is 0 when
the proof holds, 1 when it does not, 2 on unusable input.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

PROOF_FORMAT = "csd-hub-ledger-proof/2"  # 2: public keys by owner (the hub, each CSD)
HEADER_VERSION = 1
GENESIS_PREVIOUS_HASH = "0" * 64
HUB_KEY_PURPOSE = "csd-hub-ledger/hub-key"
HUB_KEY_KIND = "HUB_KEY"
ANNOUNCEMENT_MAX_CHARS = 4096
# the first four bytes of keccak-256("root_at(uint256)"): the anchor contract's reader (contracts/LedgerAnchor.vy)
ROOT_AT_SELECTOR = "698d3579"

# --- Canonical bytes ---------------------------------------------------------------------------------------


def decimal_text(value: Decimal) -> str:
    """Fixed decimal notation: no exponent, no trailing zeros after the point, no negative zero."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite decimal")
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@functools.lru_cache(maxsize=4096)
def time_text(value: dt.datetime) -> str:
    """A moment as canonical text: UTC, microseconds, ``Z``."""
    if value.tzinfo is None:
        raise ValueError(f"{value} has no time zone; canonical times are UTC")
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _plain(value):
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {_key(key): _plain(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_plain(item) for item in value]
    if isinstance(value, float):
        raise TypeError("floats have no canonical form here; use Decimal or a string")
    if isinstance(value, bool):  # subclasses of the plain types (enums, choices) as their plain values
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, dt.datetime):
        return time_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {_key(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    raise TypeError(f"{type(value).__name__} has no canonical form")


def _key(key) -> str:
    if type(key) is not str:
        raise TypeError(f"object keys must be strings, not {type(key).__name__}")
    return key


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_bytes(value, *, plain: bool = False) -> bytes:
    """The one canonical encoding: JSON, keys sorted, no blanks, UTF-8, decimals as fixed text, no floats.

    ``plain=True`` says the value is already made of dicts, lists, strings, ints, bools and None only (the
    hub's own leaf fields), so the conversion pass is skipped; the bytes are the same."""
    return _ENCODER.encode(value if plain else _plain(value)).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- RFC 6962 Merkle tree -----------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """All levels of the tree, leaf hashes first. Pairing level by level and carrying an odd last node up
    unchanged gives exactly the RFC 6962 tree (split at the largest power of two below n)."""
    levels = [leaves]
    level = leaves
    while len(level) > 1:
        upper = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            upper.append(level[-1])
        levels.append(upper)
        level = upper
    return levels


def merkle_root(leaves: list[bytes]) -> bytes:
    """The root over leaf hashes; the hash of the empty string for an empty tree (RFC 6962 section 2.1)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    return merkle_levels(leaves)[-1][0]


def audit_path(levels: list[list[bytes]], index: int) -> list[bytes]:
    """Sibling hashes from the leaf up to the root for the leaf at ``index``."""
    path = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return path


def root_from_audit_path(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """The root an audit path leads to (RFC 9162 section 2.1.3.2); ValueError if the path cannot fit."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn, result = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            raise ValueError("the audit path is longer than the tree is deep")
        if fn % 2 == 1 or fn == sn:
            result = node_hash(sibling, result)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("the audit path is shorter than the tree is deep")
    return result


# --- Keys and signatures -----------------------------------------------------------------------------------


def key_id_for(public_key: bytes) -> str:
    """A key's id: the first 16 hex digits of the SHA-256 of its raw 32 bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ValueError(f"{what} is not valid base64") from None


def signature_holds(public_key_b64: str, message: bytes, signature_b64: str) -> bool:
    try:
        VerifyKey(b64decode(public_key_b64, "public key")).verify(
            message, b64decode(signature_b64, "signature")
        )
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def hub_key_statement(*, key_id: str, public_key: str, previous_key_id: str | None) -> bytes:
    """The bytes a hub key announcement signs: the previous key (``signature``) hands over to the new one,
    which signs them as well (``possession``); the first key signs its own (``signature``)."""
    return canonical_bytes(
        {
            "purpose": HUB_KEY_PURPOSE,
            "key_id": key_id,
            "public_key": public_key,
            "previous_key_id": previous_key_id,
        }
    )


def hub_key_announcement(record: str) -> dict | None:
    """A HUB_KEY entry's record as the announcement it should be (a small JSON object); None for anything
    else, which only an edit outside the hub makes. An announcement holds no nested values, so a record
    longer or more nested than one could be is refused unread: deep enough nesting overflows the C stack
    of the JSON decoder (a crash, not an exception) before it reaches the recursion limit."""
    if len(record) > ANNOUNCEMENT_MAX_CHARS or record.count("[") + record.count("{") > 4:
        return None
    try:
        value = json.loads(record)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# --- Entries and blocks ------------------------------------------------------------------------------------


def entry_leaf_bytes(entry: Mapping) -> bytes:
    """What a leaf commits to: the entry's id, kind, reference, CSDs, record hash and time of appending."""
    fields = {
        "id": entry["id"],
        "kind": entry["kind"],
        "reference": entry["reference"],
        "csds": list(entry["csds"]),
        "record_hash": entry["record_hash"],
        "appended_at": entry["appended_at"],
    }
    return canonical_bytes(fields, plain=_is_plain_leaf(fields))


def _is_plain_leaf(fields: dict) -> bool:
    return (
        type(fields["id"]) is int
        and all(type(fields[name]) is str for name in ("kind", "reference", "record_hash", "appended_at"))
        and all(type(code) is str for code in fields["csds"])
    )


def header_bytes(header: Mapping) -> bytes:
    return canonical_bytes(dict(header))


def block_hash(header: Mapping) -> str:
    return sha256_hex(header_bytes(header))


HEADER_FIELDS = (
    "version",
    "height",
    "previous_hash",
    "merkle_root",
    "entry_count",
    "sealed_at",
    "hub_key_id",
    "csds",
)


# --- Findings ---------------------------------------------------------------------------------------------


@dataclass
class Finding:
    """One reason a proof or a chain does not hold, with where it was found."""

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass
class ProofResult:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.findings


CsdKeys = Mapping[str, Mapping[str, str]]
"""Trusted CSD public keys: by CSD code, then by key id."""

CsdKeyPeriods = Mapping[str, Mapping[str, Iterable[tuple[str | None, str | None]]]]
"""When each CSD key was in force, by CSD code then key id: (from, until) as canonical times, None for
"since always" and "still"; a key may have several."""


def key_in_force(periods: Iterable[tuple[str | None, str | None]], at: str | None) -> bool:
    """Whether a moment (canonical time text, which sorts as the moments do) falls in one of the periods;
    a period includes its start, not its end (the moment the next key took over)."""
    return at is not None and any(
        (start is None or start <= at) and (end is None or at < end) for start, end in periods
    )


def _endorsement_findings(
    where: str,
    header: Mapping,
    endorsements: Iterable[Mapping],
    csd_keys: CsdKeys,
    key_periods: CsdKeyPeriods | None = None,
) -> list[Finding]:
    findings = []
    message = header_bytes(header)
    endorsed = set()
    for endorsement in endorsements:
        csd, key_id = endorsement.get("csd"), endorsement.get("key_id")
        # only a key of that CSD's own: the hub's, or another CSD's, is no endorsement by it
        public_key = csd_keys.get(csd, {}).get(key_id)
        if csd not in header["csds"]:
            findings.append(Finding(where, f"endorsement by {csd}, which is not involved in the block"))
        elif public_key is None:
            findings.append(Finding(where, f"endorsement by {csd} with key id {key_id}, not a key of {csd}"))
        elif not signature_holds(public_key, message, endorsement.get("signature", "")):
            findings.append(Finding(where, f"endorsement by {csd} (key {key_id}) does not verify"))
        elif key_periods is not None and not key_in_force(
            periods := list(key_periods.get(csd, {}).get(key_id, ())), endorsement.get("endorsed_at")
        ):
            # a key once retired may be in other hands: what it signs after its retirement is no
            # endorsement, though the signature itself verifies
            spans = ", ".join(f"{start or 'the start'} to {end or 'now'}" for start, end in periods)
            findings.append(
                Finding(
                    where,
                    f"endorsement by {csd} with key {key_id} stored at {endorsement.get('endorsed_at')}, "
                    f"when that key was not in force (in force {spans or 'never'})",
                )
            )
        else:
            endorsed.add(csd)
    for csd in header["csds"]:
        if csd not in endorsed and not any(f.problem.startswith(f"endorsement by {csd} ") for f in findings):
            findings.append(Finding(where, f"no endorsement by {csd}"))
    return findings


def _checked(keys: Mapping, owner: str, findings: list[Finding]) -> dict[str, str]:
    """``keys`` (key id -> base64 public key) of one owner, each checked against its key id."""
    checked = {}
    for key_id, public_key in keys.items():
        try:
            raw = b64decode(public_key, f"{owner}'s public key {key_id}")
        except (ValueError, TypeError) as exc:
            findings.append(Finding("keys", str(exc)))
            continue
        if key_id_for(raw) != key_id:
            findings.append(Finding("keys", f"{owner}'s key id {key_id} does not match its public key"))
            continue
        checked[key_id] = public_key
    return checked


def keys_by_owner(offered: Mapping) -> tuple[dict[str, str], dict[str, dict[str, str]], list[Finding]]:
    """The hub's keys and each CSD's from a key file's contents (``{"hub": {key id: key}, "csds": {code:
    {key id: key}}}``), each checked against its id, and a finding for each that is not what it says."""
    findings: list[Finding] = []
    if not isinstance(offered, Mapping) or not all(
        isinstance(offered.get(o), Mapping) for o in ("hub", "csds")
    ):
        findings.append(
            Finding(
                "keys", 'keys must say whose they are: {"hub": {key id: key}, "csds": {code: {key id: key}}}'
            )
        )
        return {}, {}, findings
    hub = _checked(offered["hub"], "the hub", findings)
    csds = {}
    for code, keys in offered["csds"].items():
        if isinstance(keys, Mapping):
            csds[code] = _checked(keys, code, findings)
        else:  # a key file that says nothing usable about a CSD is no file to check its endorsements with
            findings.append(
                Finding(
                    "keys", f"{code}'s keys must be an object {{key id: key}}, not a {type(keys).__name__}"
                )
            )
    return hub, csds, findings


def _trusted_keys(
    proof: Mapping, trusted: Mapping | None, result: ProofResult
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The hub's keys and each CSD's, from the trusted key file or else from the proof itself."""
    offered = trusted if trusted is not None else proof.get("public_keys", {})
    if trusted is None:
        result.notes.append("public keys taken from the proof itself, not from a trusted key file")
    hub, csds, findings = keys_by_owner(offered)
    result.findings.extend(findings)
    return hub, csds


def verify_proof(proof: Mapping, trusted_keys: Mapping | None = None) -> ProofResult:
    """Checks an inclusion proof: the entry's leaf leads through the audit path to the block's Merkle root,
    the header's hash, the hub's signature with a hub key, and the endorsement of every CSD the entry
    involves with that CSD's own key (``trusted_keys``: ``{"hub": {...}, "csds": {code: {...}}}``)."""
    result = ProofResult()
    if proof.get("format") != PROOF_FORMAT:
        result.findings.append(Finding("proof", f"format is {proof.get('format')!r}, not {PROOF_FORMAT!r}"))
        return result
    hub_keys, csd_keys = _trusted_keys(proof, trusted_keys, result)
    entry, header = proof["entry"], proof["block"]
    outside = sorted(set(entry["csds"]) - set(header["csds"]))
    if outside:
        # the block's CSDs are those that must endorse it: one naming fewer would spare them
        result.findings.append(
            Finding("block", f"it does not name {', '.join(outside)}, which the entry involves")
        )
    record = proof.get("record")
    if record is not None and sha256_hex(record.encode("utf-8")) != entry["record_hash"]:
        result.findings.append(Finding("entry", "the record does not hash to the entry's record hash"))
    try:
        root = root_from_audit_path(
            leaf_hash(entry_leaf_bytes(entry)),
            proof["leaf_index"],
            header["entry_count"],
            [bytes.fromhex(item) for item in proof["audit_path"]],
        )
    except ValueError as exc:
        result.findings.append(Finding("audit path", str(exc)))
    else:
        if root.hex() != header["merkle_root"]:
            result.findings.append(Finding("audit path", "does not lead to the block's Merkle root"))
    if block_hash(header) != proof.get("block_hash"):
        result.findings.append(Finding("block", "the header does not hash to the stated block hash"))
    signature = proof.get("hub_signature", {})
    hub_key = hub_keys.get(header["hub_key_id"])
    if signature.get("key_id") != header["hub_key_id"]:
        result.findings.append(Finding("hub signature", "made with a key other than the header names"))
    elif hub_key is None:
        result.findings.append(Finding("hub signature", f"unknown hub key id {header['hub_key_id']}"))
    elif not signature_holds(hub_key, header_bytes(header), signature.get("signature", "")):
        result.findings.append(Finding("hub signature", "does not verify"))
    result.findings.extend(
        _endorsement_findings("endorsements", header, proof.get("endorsements", []), csd_keys)
    )
    return result


# --- Whole chains -----------------------------------------------------------------------------------------


@dataclass
class ChainBlock:
    """One block as stored: its header fields, its stated hash, signatures and its entries in order."""

    header: dict
    block_hash: str
    hub_signature: str
    endorsements: list[dict]
    entries: list[dict]
    records: list[str | None]


class ChainChecker:
    """Walks a chain block by block, keeping the state one block needs from the ones before it: the next
    height, the previous hash and the hub key in force (handed over by HUB_KEY entries). ``hub_keys``:
    the hub keys the checker trusts (a key file's), when every block must be signed by one of them besides
    the chain's own handovers. ``csd_key_periods``: when each CSD key was in force; each endorsement must
    then say when it was stored (``endorsed_at``) and count only if its key was in force at that moment.
    Without it (a key file, which says whose a key is but not when), any key of the CSD's counts."""

    def __init__(
        self,
        csd_keys: CsdKeys | None = None,
        *,
        hub_keys: Mapping[str, str] | None = None,
        csd_key_periods: CsdKeyPeriods | None = None,
    ) -> None:
        self.csd_keys = dict(csd_keys or {})
        self.csd_key_periods = csd_key_periods
        self.trusted_hub_keys = None if hub_keys is None else dict(hub_keys)
        self.hub_keys: dict[str, str] = {}
        self.active_hub_key: str | None = None
        self.next_height = 1
        self.previous_hash = GENESIS_PREVIOUS_HASH

    def check(self, block: ChainBlock) -> list[Finding]:
        header = block.header
        where = f"block {header.get('height')}"
        findings = []
        if header.get("version") != HEADER_VERSION or set(header) != set(HEADER_FIELDS):
            return [Finding(where, "the header's version or fields are not the ones this verifier knows")]
        if header["height"] != self.next_height:
            findings.append(Finding(where, f"out of order: the height expected here is {self.next_height}"))
        if header["previous_hash"] != self.previous_hash:
            findings.append(Finding(where, "its previous hash is not the hash of the block before it"))
        computed = block_hash(header)
        if computed != block.block_hash:
            findings.append(Finding(where, "its header does not hash to its stored block hash"))
        findings.extend(self._entries(where, block))
        findings.extend(self._hub_signature(where, block, computed))
        findings.extend(
            _endorsement_findings(where, header, block.endorsements, self.csd_keys, self.csd_key_periods)
        )
        self.next_height = header["height"] + 1
        self.previous_hash = computed
        return findings

    def _entries(self, where: str, block: ChainBlock) -> list[Finding]:
        findings = []
        header = block.header
        if len(block.entries) != header["entry_count"]:
            findings.append(
                Finding(where, f"holds {len(block.entries)} entries, its header says {header['entry_count']}")
            )
        leaves, involved, previous_id = [], set(), 0
        for entry, record in zip(block.entries, block.records, strict=True):
            if entry["id"] <= previous_id:
                findings.append(Finding(f"entry {entry['id']}", "out of order in its block (ids must rise)"))
            previous_id = entry["id"]
            if record is not None and sha256_hex(record.encode("utf-8")) != entry["record_hash"]:
                findings.append(
                    Finding(f"entry {entry['id']}", "its record does not hash to its record hash")
                )
            leaves.append(leaf_hash(entry_leaf_bytes(entry)))
            involved.update(entry["csds"])
        if merkle_root(leaves).hex() != header["merkle_root"]:
            findings.append(Finding(where, "its entries do not make its Merkle root"))
        if sorted(involved) != list(header["csds"]):
            findings.append(Finding(where, "the CSDs it names are not the CSDs of its entries"))
        return findings

    def _hub_signature(self, where: str, block: ChainBlock, computed_hash: str) -> list[Finding]:
        findings = []
        header = block.header
        announcements = []
        for entry, record in zip(block.entries, block.records, strict=True):
            if entry["kind"] != HUB_KEY_KIND or record is None:
                continue
            announcement = hub_key_announcement(record)
            if announcement is None:
                findings.append(
                    Finding(
                        f"entry {entry['id']}",
                        "its hub key announcement is not one (a small JSON object)",
                    )
                )
            else:
                announcements.append((entry, announcement))
        if self.active_hub_key is None:
            genesis = [a for a in announcements if a[1].get("previous_key_id") is None]
            if not genesis:
                return [*findings, Finding(where, "the first block does not announce the hub's first key")]
            self._accept_key(where, genesis[0][1], findings)
        if header["hub_key_id"] != self.active_hub_key:
            findings.append(
                Finding(
                    where,
                    f"signed with hub key {header['hub_key_id']}, the key in force is {self.active_hub_key}",
                )
            )
        public_key = self.hub_keys.get(header["hub_key_id"])
        if public_key is None or not signature_holds(public_key, header_bytes(header), block.hub_signature):
            findings.append(Finding(where, "the hub's signature does not verify"))
        elif (
            self.trusted_hub_keys is not None
            and self.trusted_hub_keys.get(header["hub_key_id"]) != public_key
        ):
            findings.append(
                Finding(where, f"signed with hub key {header['hub_key_id']}, not a trusted hub key")
            )
        for _entry, announcement in announcements:
            if announcement.get("previous_key_id") is not None:
                self._accept_key(where, announcement, findings)
        return findings

    def _accept_key(self, where: str, announcement: dict, findings: list[Finding]) -> None:
        key_id, public_key = announcement.get("key_id"), announcement.get("public_key", "")
        previous = announcement.get("previous_key_id")
        try:
            raw = b64decode(public_key, "announced hub key")
        except ValueError as exc:
            findings.append(Finding(where, str(exc)))
            return
        if key_id_for(raw) != key_id:
            findings.append(Finding(where, f"announced hub key id {key_id} does not match its public key"))
            return
        if previous is not None and previous != self.active_hub_key:
            findings.append(Finding(where, f"hands over from {previous}, not from the key in force"))
            return
        signer = public_key if previous is None else self.hub_keys[previous]
        statement = hub_key_statement(key_id=key_id, public_key=public_key, previous_key_id=previous)
        if not signature_holds(signer, statement, announcement.get("signature", "")):
            findings.append(
                Finding(where, f"the announcement of hub key {key_id} is not signed by {previous or key_id}")
            )
            return
        # the new key signs the same statement too: whoever hands over proves they hold the key handed
        # over to, or anyone holding the old key could hand the chain to a public key they do not hold (a
        # chain rebuilt with a foreign key, handed over to the hub's real public key, would pass for the
        # hub's); the first key's own signature above is that proof already
        if previous is not None and not signature_holds(
            public_key, statement, announcement.get("possession", "")
        ):
            findings.append(
                Finding(where, f"the announcement of hub key {key_id} is not signed by {key_id} itself")
            )
            return
        self.hub_keys[key_id] = public_key
        self.active_hub_key = key_id


# --- Anchor on an EVM chain ---------------------------------------------------------------------------------


def anchored_root(rpc_url: str, contract: str, height: int, *, timeout: float = 10) -> str | None:
    """The root the anchor contract holds for a height, read from a node over JSON-RPC (a CSD's own node)."""
    import urllib.request

    if not rpc_url.startswith(("http://", "https://")):
        raise ValueError(f"{rpc_url!r} is not an http(s) JSON-RPC URL")
    call = {"to": contract, "data": "0x" + ROOT_AT_SELECTOR + format(height, "064x")}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [call, "latest"]})
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        rpc_url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
        reply = json.load(answer)
    if "error" in reply:
        raise ValueError(f"the node answered: {reply['error']}")
    result = reply["result"].removeprefix("0x")
    return None if int(result or "0", 16) == 0 else result.rjust(64, "0")


def verify_anchor(proof: Mapping, rpc_url: str, *, contract: str | None = None) -> list[Finding]:
    """Checks that the proof's block root is the one anchored on the chain the node at ``rpc_url`` follows,
    in ``contract``: the anchor contract the checker trusts (anyone can deploy a contract of the same
    code and anchor a forged root in it). Without it, the contract the proof names, noted as such."""
    anchor = proof.get("anchor") or {}
    if contract is None:
        if not anchor:
            return [Finding("anchor", "the proof names no anchor contract")]
        contract = anchor["contract"]
    elif anchor and anchor.get("contract", "").lower() != contract.lower():
        return [Finding("anchor", f"the proof names contract {anchor.get('contract')}, not {contract}")]
    root = anchored_root(rpc_url, contract, proof["block"]["height"])
    if root is None:
        return [Finding("anchor", f"block {proof['block']['height']} is not anchored in {contract}")]
    if root != proof["block"]["merkle_root"]:
        return [
            Finding("anchor", f"the contract holds another root for block {proof['block']['height']}: {root}")
        ]
    return []


# --- Command line ---------------------------------------------------------------------------------------------


def _load_keys(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def main(argv: list[str] | None = None) -> int:
    # run as a file, this folder comes first on the path, and it holds modules named like standard ones
    # (selectors, keys): take it off before anything else is imported
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != here]
    parser = argparse.ArgumentParser(description="Check an inclusion proof of the CSD hub's shared ledger.")
    parser.add_argument("proof", help="the proof, as JSON")
    parser.add_argument(
        "--keys",
        help='trusted public keys by owner, as JSON: {"hub": {id: key}, "csds": {code: {id: key}}} '
        "(default: the proof's own)",
    )
    parser.add_argument(
        "--rpc", help="JSON-RPC URL of an EVM node: also check the root anchored on that chain"
    )
    parser.add_argument("--contract", help="with --rpc: the anchor contract's address to trust")
    args = parser.parse_args(argv)
    try:
        with open(args.proof, encoding="utf-8") as handle:
            proof = json.load(handle)
        trusted = _load_keys(args.keys) if args.keys else None
        result = verify_proof(proof, trusted)
        if args.rpc:
            if args.contract is None:
                result.notes.append("anchor contract taken from the proof itself, not given with --contract")
            result.findings.extend(verify_anchor(proof, args.rpc, contract=args.contract))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"unusable input: {exc}", file=sys.stderr)
        return 2
    for note in result.notes:
        print(f"note: {note}")
    if result.holds:
        entry = proof["entry"]
        print(
            f"OK: entry {entry['id']} ({entry['kind']} {entry['reference']}) is in block {proof['block']['height']}"
        )
        if args.rpc:
            print(f"OK: the block's root is anchored in {args.contract or proof['anchor']['contract']}")
        return 0
    for finding in result.findings:
        print(f"BROKEN: {finding}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
