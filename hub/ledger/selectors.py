"""Reads of the shared ledger: headers, keys in force, inclusion proofs and the check of the whole chain."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import Count, F, QuerySet, Value
from django.db.models.functions import Length, Replace

from hub.ledger import verifier
from hub.ledger.endorsers import configured_endorser
from hub.ledger.errors import EntryNotSealed, HubKeyRecordInvalid
from hub.ledger.models import Alarm, Block, Endorsement, Entry, EntryKind, EvmAnchor
from hub.registry.models import CSD

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


def csd_public_keys(csd_codes: list[str], *, in_force: bool = False) -> dict[str, dict[str, str]]:
    """Each CSD's trusted keys, by code then key id, to check endorsements made so far: the key the
    registry holds for it, and the key the endorser vouches for (the local key that signed for the CSD
    before the registry had the CSD's own; its endorsements stay valid). ``in_force``: only the key a new
    endorsement must be made with, the registry's where it has one."""
    trusted: dict[str, dict[str, str]] = {code: {} for code in csd_codes}
    registered = dict(CSD.objects.filter(code__in=csd_codes).values_list("code", "signing_public_key"))
    vouched = configured_endorser().public_keys(csd_codes=csd_codes)
    for code in csd_codes:
        public_key = registered.get(code)
        if public_key:
            trusted[code][verifier.key_id_for(verifier.b64decode(public_key, f"{code}'s key"))] = public_key
        if not (public_key and in_force):
            trusted[code].update(vouched.get(code, {}))
    return trusted


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
    endorsements = list(block.endorsements.values("csd", "key_id", "signature"))
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
        "public_keys": {"hub": hub_public_keys(), "csds": csd_public_keys(block.csd_codes)},
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
    endorsements: dict[int, list[dict]] = {}
    for row in Endorsement.objects.values("block_id", "csd", "key_id", "signature").iterator():
        endorsements.setdefault(row.pop("block_id"), []).append(row)
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

    The CSDs' keys are the registry's (and the local endorser's) unless ``csd_keys`` gives them: someone
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
        csd_keys = csd_public_keys(codes)
    checker = verifier.ChainChecker(csd_keys, hub_keys=hub_keys)
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
