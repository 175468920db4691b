"""Reads of the shared ledger: headers, keys in force, inclusion proofs and the check of the whole chain."""

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.functions import Length, Replace

from hub.ledger import verifier
from hub.ledger.endorsers import configured_endorser
from hub.ledger.errors import EntryNotSealed, HubKeyRecordInvalid
from hub.ledger.models import Alarm, Block, Endorsement, Entry, EntryKind, EvmAnchor
from hub.registry.models import CSDKey

ENTRY_FIELDS = ("id", "kind", "reference", "csds", "record_hash", "appended_at")


def entry_as_leaf_fields(row: dict) -> dict:
    """An entry's fields as its Merkle leaf commits to them (see ``verifier.entry_leaf_bytes``)."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "reference": row["reference"],
        "csds": row["csds"].split(",") if row["csds"] else [],
        "record_hash": row["record_hash"],
        "appended_at": verifier.time_text(row["appended_at"]),
    }


def block_header(block: Block) -> dict:
    return {
        "version": block.version,
        "height": block.height,
        "previous_hash": block.previous_hash,
        "merkle_root": block.merkle_root,
        "entry_count": block.entry_count,
        "sealed_at": verifier.time_text(block.sealed_at),
        "hub_key_id": block.hub_key_id,
        "csds": block.csd_codes,
    }


def chain_tip() -> Block | None:
    return Block.objects.order_by("-height").first()


def pending_entry_count() -> int:
    return Entry.objects.filter(block__isnull=True).count()


def hub_key_announcements() -> list[dict]:
    """Sealed announcements of hub keys, oldest first: the first key, then each rotation. Raises
    HubKeyRecordInvalid for a record that is no announcement (edited outside the hub): the keys in force
    cannot be told then, and ``ledger_verify`` names the entry."""
    records = Entry.objects.filter(kind=EntryKind.HUB_KEY, block__isnull=False).values_list("id", "record")
    announcements = []
    for entry_id, record in records.order_by("id"):
        announcement = verifier.hub_key_announcement(record)
        if announcement is None or not all(
            isinstance(announcement.get(name), str) for name in ("key_id", "public_key")
        ):
            raise HubKeyRecordInvalid(
                f"the hub key announcement in ledger entry {entry_id} is unreadable: the ledger was edited "
                "outside the hub; run manage.py ledger_verify"
            )
        announcements.append(announcement)
    return announcements


def hub_key_in_force_id() -> str | None:
    announcements = hub_key_announcements()
    return announcements[-1]["key_id"] if announcements else None


def hub_public_keys() -> dict[str, str]:
    return {item["key_id"]: item["public_key"] for item in hub_key_announcements()}


@dataclass(frozen=True)
class CsdKeyPeriod:
    """One key a CSD endorses with, and when its endorsements count: from ``start`` (None: since before the
    registry recorded any key of the CSD) until ``end`` (None: still in force)."""

    key_id: str
    public_key: str
    start: dt.datetime | None
    end: dt.datetime | None
    vouched: bool = False  # the endorser's own key, not one the registry recorded


def csd_key_periods(csd_codes: Iterable[str]) -> dict[str, list[CsdKeyPeriod]]:
    """Every key each CSD has had, with when it was in force: the registry's record of the CSD's keys
    (``CSDKey``), and the key the endorser vouches for (the local key that signs for a CSD while the registry
    has no key of its own) for the time before the registry's first key of the CSD, or for all time if it
    has none. An endorsement counts when the key it was made with was in force at the moment it was stored.
    """
    codes = list(csd_codes)
    periods: dict[str, list[CsdKeyPeriod]] = {code: [] for code in codes}
    recorded = CSDKey.objects.filter(csd__code__in=codes).order_by("in_force_from", "id")
    for code, key_id, public_key, start, end in recorded.values_list(
        "csd__code", "key_id", "public_key", "in_force_from", "retired_at"
    ):
        periods[code].append(CsdKeyPeriod(key_id, public_key, start, end))
    vouched = configured_endorser().public_keys(csd_codes=codes)
    for code in codes:
        first = periods[code][0].start if periods[code] else None
        for key_id, public_key in vouched.get(code, {}).items():
            periods[code].append(CsdKeyPeriod(key_id, public_key, None, first, vouched=True))
    return periods


def csd_public_keys(csd_codes: list[str], *, in_force: bool = False) -> dict[str, dict[str, str]]:
    """Each CSD's keys, by code then key id: every key it has had (``csd_key_periods``), to check
    endorsements made so far; ``in_force``: only the key a new endorsement must be made with, the
    registry's key in force where it has one, else the key the endorser vouches for."""
    periods = csd_key_periods(csd_codes)
    trusted: dict[str, dict[str, str]] = {}
    for code in csd_codes:
        chosen = periods[code]
        if in_force:
            recorded = [p for p in chosen if not p.vouched and p.end is None]
            chosen = recorded or [p for p in chosen if p.vouched]
        trusted[code] = {period.key_id: period.public_key for period in chosen}
    return trusted


def csd_key_periods_as_text(periods: dict[str, list[CsdKeyPeriod]]) -> verifier.CsdKeyPeriods:
    """``csd_key_periods`` as the standalone verifier takes them: canonical time text, by CSD then key id."""
    found: dict[str, dict[str, list[tuple[str | None, str | None]]]] = {}
    for code, items in periods.items():
        for period in items:
            found.setdefault(code, {}).setdefault(period.key_id, []).append(
                (
                    period.start and verifier.time_text(period.start),
                    period.end and verifier.time_text(period.end),
                )
            )
    return found


def blocks_missing_endorsements(
    *, recent: int | None = None, entries: Iterable[int] | QuerySet | None = None
) -> QuerySet[Block]:
    """Blocks that fewer CSDs have endorsed than they involve (one aggregate query, oldest first); with
    ``recent``, only among the last that many blocks (what the scheduled task looks at every few seconds);
    with ``entries``, only the blocks holding those entries, however old."""
    involved = Length("csds") - Length(Replace("csds", Value(","), Value(""))) + 1
    blocks = Block.objects.all()
    if recent is not None:
        tip = chain_tip()
        blocks = blocks.filter(height__gt=(tip.height if tip else 0) - recent)
    if entries is not None:
        blocks = blocks.filter(pk__in=Entry.objects.filter(pk__in=entries).values("block_id"))
    return (
        blocks.exclude(csds="")
        .annotate(endorsed=Count("endorsements"), involved=involved)
        .filter(endorsed__lt=F("involved"))
        .order_by("height")
    )


def alarms_open() -> list[Alarm]:
    """The ledger's alarms: conditions that wait on an operator (read by ``/health/``)."""
    return list(Alarm.objects.order_by("kind", "csd"))


def blocks_not_anchored() -> list[Block]:
    return list(Block.objects.filter(evm_anchor__isnull=True).order_by("height"))


def entries_involving(csd_code: str) -> QuerySet[Entry]:
    """The entries whose CSDs include ``csd_code``, sealed or not, and no other: what a CSD may read of the
    ledger's entries (``csds`` holds the codes sorted and comma-separated; a code holds no comma)."""
    return Entry.objects.filter(
        Q(csds=csd_code)
        | Q(csds__startswith=f"{csd_code},")
        | Q(csds__endswith=f",{csd_code}")
        | Q(csds__contains=f",{csd_code},")
    )


def block_headers(*, after: int | None = None, limit: int) -> list[dict]:
    """Up to ``limit`` blocks above height ``after``, in height order, as a CSD checks the chain without its
    entries: each header's fields (``block_header``, the bytes the hub and the CSDs sign), its hash, the
    hub's signature, and the endorsements (CSD, key id, signature, when the hub stored it)."""
    blocks = Block.objects.order_by("height")
    if after is not None:
        blocks = blocks.filter(height__gt=after)
    blocks = list(blocks[:limit])
    endorsements = endorsements_by_block(
        Endorsement.objects.filter(block_id__in=[block.id for block in blocks]).order_by("block_id", "csd")
    )
    return [
        {
            **block_header(block),
            "block_hash": block.block_hash,
            "hub_signature": block.hub_signature,
            "endorsements": endorsements.get(block.id, []),
        }
        for block in blocks
    ]


def endorsements_by_block(endorsements: QuerySet[Endorsement]) -> dict[int, list[dict]]:
    """Endorsements as the verifier reads them (CSD, key id, signature, when the hub stored them), by block id."""
    found: dict[int, list[dict]] = {}
    for row in endorsements.values("block_id", "csd", "key_id", "signature", "endorsed_at").iterator():
        row["endorsed_at"] = verifier.time_text(row["endorsed_at"])
        found.setdefault(row.pop("block_id"), []).append(row)
    return found


def entries_page(entries: QuerySet[Entry], *, limit: int) -> list[dict]:
    """Up to ``limit`` of ``entries`` as their leaves commit to them, each with its block's height (None
    while unsealed)."""
    rows = entries.values(*ENTRY_FIELDS, "block__height")[:limit]
    return [entry_as_leaf_fields(row) | {"block_height": row["block__height"]} for row in rows]


def entry_proof(*, entry_id: int) -> dict:
    """The inclusion proof of a sealed entry, as JSON-ready data that ``verifier.verify_proof`` checks."""
    entry = Entry.objects.select_related("block").filter(id=entry_id).first()
    if entry is None:
        raise EntryNotSealed(f"there is no ledger entry {entry_id}")
    if entry.block is None:
        raise EntryNotSealed(f"entry {entry_id} is not sealed in a block yet; its proof exists once it is")
    block = entry.block
    rows = list(Entry.objects.filter(block=block).order_by("id").values(*ENTRY_FIELDS))
    leaves = [verifier.leaf_hash(verifier.entry_leaf_bytes(entry_as_leaf_fields(row))) for row in rows]
    index = next(i for i, row in enumerate(rows) if row["id"] == entry_id)
    levels = verifier.merkle_levels(leaves)
    endorsements = list(block.endorsements.values("csd", "key_id", "signature", "endorsed_at"))
    # each CSD's keys that were in force when its endorsement was stored: a key the proof offers is one that
    # could endorse this block then, not any key the CSD ever had
    stored_at = {e["csd"]: verifier.time_text(e.pop("endorsed_at")) for e in endorsements}
    periods = csd_key_periods(block.csd_codes)
    spans = csd_key_periods_as_text(periods)
    csd_keys = {
        code: {
            p.key_id: p.public_key
            for p in items
            if code not in stored_at or verifier.key_in_force(spans[code][p.key_id], stored_at[code])
        }
        for code, items in periods.items()
    }
    proof = {
        "format": verifier.PROOF_FORMAT,
        "entry": entry_as_leaf_fields(rows[index]),
        "record": entry.record,
        "leaf_index": index,
        "audit_path": [node.hex() for node in verifier.audit_path(levels, index)],
        "block": block_header(block),
        "block_hash": block.block_hash,
        "hub_signature": {"key_id": block.hub_key_id, "signature": block.hub_signature},
        "endorsements": endorsements,
        "public_keys": {"hub": hub_public_keys(), "csds": csd_keys},
    }
    anchor = EvmAnchor.objects.filter(block=block, status=EvmAnchor.Status.CONFIRMED).first()
    if anchor is not None:
        proof["anchor"] = {
            "chain_id": anchor.chain_id,
            "contract": anchor.contract,
            "tx_hash": anchor.tx_hash,
            "block_number": anchor.receipt_block,
        }
    return proof


@dataclass
class ChainReport:
    blocks: int = 0
    entries: int = 0
    findings: list[verifier.Finding] = field(default_factory=list)

    @property
    def first_break(self) -> verifier.Finding | None:
        return self.findings[0] if self.findings else None


def chain_blocks() -> Iterator[verifier.ChainBlock]:
    """Every block as stored, in height order, with its entries (id order) and endorsements."""
    endorsements = endorsements_by_block(Endorsement.objects.all())
    for block in Block.objects.order_by("height").iterator(chunk_size=200):
        rows = list(Entry.objects.filter(block=block).order_by("id").values(*ENTRY_FIELDS, "record"))
        yield verifier.ChainBlock(
            header=block_header(block),
            block_hash=block.block_hash,
            hub_signature=block.hub_signature,
            endorsements=endorsements.get(block.id, []),
            entries=[entry_as_leaf_fields(row) for row in rows],
            records=[row["record"] for row in rows],
        )


def chain_verify(
    *,
    hub_key_id: str | None = None,
    csd_keys: verifier.CsdKeys | None = None,
    hub_keys: dict[str, str] | None = None,
) -> ChainReport:
    """Recomputes the whole chain: record hashes, Merkle roots, header hashes and links, heights, the hub's
    signatures through every key rotation, and every involved CSD's endorsement. With ``hub_key_id`` (the
    key the hub is configured with), a chain whose key in force is another one is a break too: a chain
    rewritten and re-signed from its first block with a foreign key is self-consistent otherwise.

    The CSDs' keys are the registry's record of each CSD's keys (and the local endorser's), each counting
    for the endorsements stored while it was in force, unless ``csd_keys`` gives them: someone
    who can edit the hub's database can edit its registry too, so a CSD or an auditor checks with keys it
    holds itself (``manage.py ledger_verify --keys``); ``hub_keys`` then names the hub keys trusted."""
    if csd_keys is None:
        codes = sorted(
            {
                code
                for csds in Block.objects.values_list("csds", flat=True)
                for code in csds.split(",")
                if code
            }
        )
        periods = csd_key_periods(codes)
        csd_keys = {code: {p.key_id: p.public_key for p in items} for code, items in periods.items()}
        key_periods = csd_key_periods_as_text(periods)
    else:
        key_periods = None  # a key file says whose a key is, not when: any of the CSD's keys counts
    checker = verifier.ChainChecker(csd_keys, hub_keys=hub_keys, csd_key_periods=key_periods)
    report = ChainReport()
    for block in chain_blocks():
        report.blocks += 1
        report.entries += len(block.entries)
        report.findings.extend(checker.check(block))
    if hub_key_id is not None and checker.active_hub_key not in (None, hub_key_id):
        report.findings.append(
            verifier.Finding(
                f"block {checker.next_height - 1}",
                f"the chain's hub key in force is {checker.active_hub_key}, the hub is configured with {hub_key_id}",
            )
        )
    return report


def anchors_verify(*, anchorer) -> list[verifier.Finding]:
    """Reads every block's root back from the anchor contract: a block missing there, or a different
    root, is a break (this also catches a chain rewritten and re-signed in the database); and so is a
    block the contract holds that the database does not (the last blocks deleted, say)."""
    return list(anchors_findings(anchorer=anchorer))


def anchors_findings(*, anchorer) -> Iterator[verifier.Finding]:
    """``anchors_verify``'s findings, each as soon as it is found: a caller whose node drops midway (a
    LedgerError from the anchorer) keeps what was found before."""
    stored = Block.objects.count()
    anchored = anchorer.anchored_count()
    if anchored > stored:
        yield verifier.Finding(
            f"block {stored + 1}",
            f"the chain holds the roots of {anchored} blocks, the database only {stored}: blocks are missing",
        )
    failed = dict(
        EvmAnchor.objects.filter(status=EvmAnchor.Status.FAILED).values_list("block__height", "failure")
    )
    for block in Block.objects.order_by("height").only("height", "merkle_root"):
        on_chain = anchorer.anchored_root(block.height)
        if on_chain is None:
            why = f": its anchor failed: {failed[block.height]}" if block.height in failed else ""
            yield verifier.Finding(f"block {block.height}", f"its root is not anchored on the chain{why}")
        elif on_chain != block.merkle_root:
            yield verifier.Finding(f"block {block.height}", f"the chain holds another root, {on_chain}")
