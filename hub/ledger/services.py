"""Writes to the shared ledger: appending entries, sealing them into blocks, endorsing, rotating the hub key
and anchoring. Every write to the ledger's tables goes through here."""

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from hub.clock import database_now
from hub.ledger import keys, selectors, verifier
from hub.ledger.endorsers import Endorser, configured_endorser
from hub.ledger.errors import (
    AnchorConflict,
    AnchorsIncomplete,
    CsdKeyMissing,
    CsdNotConfigured,
    EndorsedOtherwise,
    EndorsementInvalid,
    EndorserUnavailable,
    EntryInvalid,
    HubKeyNotInForce,
    LedgerError,
)
from hub.ledger.models import Alarm, AlarmKind, Block, Endorsement, Entry, EntryKind
from hub.registry.models import CSD
from hub.rows import rows_append

log = logging.getLogger(__name__)

# one sealer at a time on PostgreSQL (SQLite's IMMEDIATE transactions already serialise writers)
SEALER_LOCK = 0x4C454447  # "LEDG"
BUSINESS_KINDS = (EntryKind.COMMIT, EntryKind.SETTLED, EntryKind.ABORT)
# how far back the scheduled task looks for blocks still missing endorsements (ledger_verify looks at all)
ENDORSE_WINDOW_BLOCKS = 10_000


@dataclass(frozen=True)
class EntryDraft:
    kind: str
    reference: str
    csds: tuple[str, ...]
    record: Mapping


def _entry_values(draft: EntryDraft, now) -> dict:
    """An entry's row, by attribute name, once its draft is checked."""
    if draft.kind not in BUSINESS_KINDS:
        raise EntryInvalid(f"kind {draft.kind!r} is not one of {', '.join(BUSINESS_KINDS)}")
    if not draft.reference or len(draft.reference) > 100:
        raise EntryInvalid("an entry needs a reference (e.g. the transfer id) of at most 100 characters")
    codes = sorted(set(draft.csds))
    if not codes or any(not code or "," in code or len(code) > 16 for code in codes):
        raise EntryInvalid(f"an entry names the CSDs involved by their codes, not {list(draft.csds)!r}")
    try:
        record = verifier.canonical_bytes(draft.record)
    except (TypeError, ValueError) as exc:
        raise EntryInvalid(f"the record has no canonical form: {exc}") from None
    return {
        "kind": draft.kind,
        "reference": draft.reference,
        "csds": ",".join(codes),
        "record": record.decode("utf-8"),
        "record_hash": verifier.sha256_hex(record),
        "appended_at": now,
    }


def entry_append(*, kind: str, reference: str, csds: Iterable[str], record: Mapping) -> Entry:
    """Appends one entry (a transfer's COMMIT, SETTLED or ABORT); it is final once sealed and endorsed."""
    entry = Entry(**_entry_values(EntryDraft(kind, reference, tuple(csds), record), timezone.now()))
    entry.save()
    return entry


def entries_append(*, drafts: Iterable[EntryDraft]) -> list[int]:
    """Appends many entries in one batch; returns their ids, in the order of ``drafts``."""
    now = timezone.now()
    return rows_append(Entry, [_entry_values(draft, now) for draft in drafts])


def _take_sealer_lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEALER_LOCK])


def _announcement(*, new: keys.Signer, previous: keys.Signer | None) -> Entry:
    """The entry announcing a hub key: signed by the key in force, and by the new key itself (proof that
    the hub holds it); the first key signs its own."""
    statement = verifier.hub_key_statement(
        key_id=new.key_id, public_key=new.public_key, previous_key_id=previous and previous.key_id
    )
    record = {
        "key_id": new.key_id,
        "public_key": new.public_key,
        "previous_key_id": previous and previous.key_id,
        "signature": (previous or new).sign(statement),
    }
    if previous is not None:
        record["possession"] = new.sign(statement)
    return entry_append_hub_key(record=record)


def entry_append_hub_key(*, record: Mapping) -> Entry:
    data = verifier.canonical_bytes(record)
    entry = Entry(
        kind=EntryKind.HUB_KEY,
        reference=f"hub-key:{record['key_id']}",
        csds="",
        record=data.decode("utf-8"),
        record_hash=verifier.sha256_hex(data),
        appended_at=timezone.now(),
    )
    entry.save()
    return entry


def _seal_locked(*, signer: keys.Signer, max_entries: int, must_include: Entry | None = None) -> Block | None:
    """Seals the oldest pending entries into the next block; the caller holds the sealer lock."""
    limit = max_entries - 1 if must_include else max_entries
    pending = Entry.objects.filter(block__isnull=True).order_by("id").values(*selectors.ENTRY_FIELDS)
    if must_include is not None:
        pending = pending.exclude(id=must_include.id)
    rows = list(pending[:limit])
    if must_include is not None:
        rows.append(Entry.objects.values(*selectors.ENTRY_FIELDS).get(id=must_include.id))
        rows.sort(key=lambda row: row["id"])
    if not rows:
        return None
    tip = selectors.chain_tip()
    fields = [selectors.entry_as_leaf_fields(row) for row in rows]
    root = verifier.merkle_root([verifier.leaf_hash(verifier.entry_leaf_bytes(f)) for f in fields])
    involved = sorted({code for f in fields for code in f["csds"]})
    sealed_at = timezone.now()
    header = {
        "version": verifier.HEADER_VERSION,
        "height": tip.height + 1 if tip else 1,
        "previous_hash": tip.block_hash if tip else verifier.GENESIS_PREVIOUS_HASH,
        "merkle_root": root.hex(),
        "entry_count": len(rows),
        "sealed_at": verifier.time_text(sealed_at),
        "hub_key_id": signer.key_id,
        "csds": involved,
    }
    block = Block.objects.create(
        height=header["height"],
        version=header["version"],
        previous_hash=header["previous_hash"],
        merkle_root=header["merkle_root"],
        entry_count=len(rows),
        sealed_at=sealed_at,
        hub_key_id=signer.key_id,
        csds=",".join(involved),
        block_hash=verifier.block_hash(header),
        hub_signature=signer.sign(verifier.header_bytes(header)),
    )
    ids = [row["id"] for row in rows]
    if must_include is None:
        # the rows taken are all the pending ids in this range, unless an append committed late: the count
        # tells, and the transaction is then rolled back and tried again
        chosen = Entry.objects.filter(block__isnull=True, id__gte=ids[0], id__lte=ids[-1])
    else:
        chosen = Entry.objects.filter(block__isnull=True, id__in=ids)
    updated = chosen.update(block=block)
    if updated != len(ids):
        raise IntegrityError(
            f"sealing {block}: {updated} entries matched, {len(ids)} were hashed; trying again"
        )
    return block


def block_seal(*, signer: keys.Signer | None = None, max_entries: int | None = None) -> Block | None:
    """Seals the oldest pending entries into one block signed by the hub; None when nothing is pending.

    Concurrency-safe: sealers queue on a lock, and a unique height backs it up (a lost race is retried).
    The first block of a chain also announces the hub's first key.
    """
    signer = signer or keys.hub_signer()
    max_entries = max_entries or settings.LEDGER_BLOCK_MAX_ENTRIES
    for attempt in range(3):
        try:
            with transaction.atomic():
                _take_sealer_lock()
                in_force = selectors.hub_key_in_force_id()
                genesis = None
                if in_force is None:
                    if not Entry.objects.filter(block__isnull=True).exists():
                        return None
                    genesis = _announcement(new=signer, previous=None)
                elif in_force != signer.key_id:
                    raise HubKeyNotInForce(
                        f"the configured hub key {signer.key_id} is not the key in force ({in_force}); "
                        "announce it with manage.py ledger_rotate_key, signed by the key in force"
                    )
                return _seal_locked(signer=signer, max_entries=max_entries, must_include=genesis)
        except IntegrityError:
            if attempt == 2:
                raise
            log.warning("ledger: lost a race to seal the next block, trying again")
    return None


def blocks_seal_pending(*, signer: keys.Signer | None = None, max_entries: int | None = None) -> list[Block]:
    """Seals every pending entry, in as many blocks as the block size needs."""
    signer = signer or keys.hub_signer()
    sealed = []
    while (block := block_seal(signer=signer, max_entries=max_entries)) is not None:
        sealed.append(block)
    return sealed


def hub_key_rotate(*, current: keys.Signer, new: keys.Signer) -> Block:
    """Hands the hub's signature over to a new key: an entry announcing it, signed by the key in force and
    by the new key, is sealed in a block the old key signs; every later block is signed by the new key."""
    with transaction.atomic():
        _take_sealer_lock()
        in_force = selectors.hub_key_in_force_id()
        if in_force is None:
            raise HubKeyNotInForce("the chain has no hub key yet: seal a first block before rotating")
        if in_force != current.key_id:
            raise HubKeyNotInForce(f"the key in force is {in_force}, not {current.key_id}")
        if new.key_id == current.key_id:
            raise HubKeyNotInForce("the new hub key is the key already in force")
        announcement = _announcement(new=new, previous=current)
        block = None
        while not Entry.objects.filter(id=announcement.id, block__isnull=False).exists():
            block = _seal_locked(signer=current, max_entries=settings.LEDGER_BLOCK_MAX_ENTRIES)
    log.info("ledger: hub key %s handed over to %s in block %s", current.key_id, new.key_id, block.height)
    return block


def block_endorse(*, block: Block, endorser: Endorser | None = None) -> list[Endorsement]:
    """Asks each CSD involved in the block that has not endorsed it yet, and stores each endorsement that
    verifies with the CSD's trusted key. Every CSD is asked, whatever another answers: the endorsements
    gathered are stored, and then the first CSD's failure, if any, is raised. Network I/O: call it outside
    any transaction."""
    stored, failures = _block_endorsements(block=block, endorser=endorser or configured_endorser())
    if failures:
        raise next(iter(failures.values()))
    return stored


def _block_endorsements(
    *, block: Block, endorser: Endorser, skip: Iterable[str] = ()
) -> tuple[list[Endorsement], dict[str, LedgerError]]:
    """The endorsements of the CSDs the block still lacks (but those in ``skip``), each asked on its own:
    what was stored, and why each CSD that did not endorse did not, by CSD code."""
    done = set(block.endorsements.values_list("csd", flat=True))
    missing = [code for code in block.csd_codes if code not in done and code not in skip]
    if not missing:
        return [], {}
    header = verifier.header_bytes(selectors.block_header(block))
    trusted = selectors.csd_public_keys(missing, in_force=True)
    rows, failures = [], {}
    try:
        for code in missing:
            try:
                rows.append(_endorsement(block, code, header, endorser, trusted))
            except LedgerError as exc:
                failures[code] = exc
    finally:  # whatever ends the round, the endorsements gathered are kept
        stored = _endorsements_store(rows, failures)
    return stored, failures


def _endorsements_store(rows: list[Endorsement], failures: dict[str, LedgerError]) -> list[Endorsement]:
    """Stores the endorsements whose key is still the CSD's key in force, each stamped with the moment it
    was stored. A CSD can change its key while it is asked (``csd_key_change`` takes the same row locks):
    an endorsement made with the key retired meanwhile is refused, in ``failures``, and asked again."""
    if not rows:
        return []
    with transaction.atomic():
        codes = sorted({row.csd for row in rows})
        registered = dict(
            CSD.objects.select_for_update(no_key=True)
            .filter(code__in=codes)
            .order_by("code")
            .values_list("code", "signing_public_key")
        )
        kept = []
        for row in rows:
            public_key = registered.get(row.csd)
            # a CSD the registry holds no key for signs with the endorser's key, checked when it answered
            if public_key and row.key_id != verifier.key_id_for(verifier.b64decode(public_key, row.csd)):
                failures[row.csd] = EndorsementInvalid(
                    f"{row.csd}'s endorsement of {row.block} (key {row.key_id}) was made with a key retired "
                    "while it was asked; it is asked again with its key in force"
                )
            else:
                kept.append(row)
        # read after the locks are held: the moment falls after any key change they waited for
        now = database_now()
        for row in kept:
            row.endorsed_at = now
        return Endorsement.objects.bulk_create(kept, ignore_conflicts=True)


def _endorsement(block: Block, code: str, header: bytes, endorser: Endorser, trusted: dict) -> Endorsement:
    signed = endorser.endorse(csd_code=code, header=header)
    # the key must be this CSD's own: another CSD's signature is no endorsement by this one (read again
    # once it has signed: the local endorser makes a development key on first use)
    public_key = trusted.get(code, {}).get(signed.key_id)
    if public_key is None:
        public_key = selectors.csd_public_keys([code], in_force=True)[code].get(signed.key_id)
    if public_key is None or not verifier.signature_holds(public_key, header, signed.signature):
        raise EndorsementInvalid(
            f"{code}'s endorsement of {block} (key {signed.key_id}) does not verify with its trusted key"
        )
    return Endorsement(block=block, csd=code, key_id=signed.key_id, signature=signed.signature)


def block_anchor(*, block: Block, anchorer=None) -> None:
    """Anchors one block's root with the configured backend (``local``: the database is the record).
    Network I/O: call it outside any transaction."""
    if anchorer is None and settings.LEDGER_BACKEND != "evm":
        return
    from hub.ledger import evm

    (anchorer or evm.configured_anchorer()).anchor(block)


def blocks_anchor_pending(*, anchorer=None, retry_failed: bool = False) -> list:
    """Anchors every sealed block not yet confirmed on the chain (``evm`` backend), oldest first, after
    reading the recently confirmed roots again (a reorganisation may have dropped some); those whose anchor
    FAILED (reverted) only when ``retry_failed``. Raises AnchorsIncomplete, once every other block has been
    anchored, for the blocks that conflict or revert.

    Heights where the contract holds another root than the hub's block keep an alarm (kind ``ANCHOR``):
    the contract never overwrites a root, so they wait on an operator. A run that got through every block
    without one removes it; a run the node cut short leaves it as it was."""
    if anchorer is None and settings.LEDGER_BACKEND != "evm":
        return []
    from hub.ledger import evm

    try:
        anchors = (anchorer or evm.configured_anchorer()).anchor_pending(retry_failed=retry_failed)
    except AnchorsIncomplete as exc:
        _anchor_conflict_alarm(
            sorted(height for height, why in exc.failures.items() if isinstance(why, AnchorConflict))
        )
        raise
    _anchor_conflict_alarm([])
    return anchors


def _anchor_conflict_alarm(heights: list[int]) -> None:
    if not heights:
        alarms_clear(kind=AlarmKind.ANCHOR_CONFLICT)
        return
    first, last = heights[0], heights[-1]
    where = f"height {first}" if first == last else f"heights {first} to {last} ({len(heights)} blocks)"
    message = (
        f"the anchor contract holds other roots than the hub's blocks at {where}, and never overwrites one: "
        "no reorganisation does that. Either someone anchored with the hub's EVM account, or the hub's blocks "
        "there were replaced (a restore that sealed those heights again); ledger_verify --anchors names them. "
        'See "Anchoring on an EVM chain" in hub/ledger/README.md'
    )
    log.error("ledger: %s", message)
    alarm_raise(kind=AlarmKind.ANCHOR_CONFLICT, message=message, heights=(first, last))


def blocks_seal_and_finalise(*, awaited: Iterable[int] | QuerySet | None = None) -> list[int]:
    """What the scheduled task does: seal every pending entry, then get every block that still lacks them
    its endorsements and its anchor. ``awaited``: entries something waits on (transfers' commit
    decisions), whose blocks are endorsed however old. Returns the heights sealed now.

    A CSD that cannot or will not endorse a block holds up that block alone: the others, the anchoring
    and whatever waits on them go on, and the block is asked for again at the next run. So does a hub that
    cannot seal (a HUB_KEY record edited, no hub key): what was sealed before is still finalised."""
    try:
        sealed = blocks_seal_pending()
    except LedgerError as exc:
        sealed = []
        message = (
            f"the hub seals no new blocks: {exc}. The blocks sealed before are still endorsed and anchored, "
            "and their transfers released; new commit decisions wait"
        )
        log.error("ledger: %s", message)
        alarm_raise(kind=AlarmKind.SEALING_STOPPED, message=message)
    else:
        alarms_clear(kind=AlarmKind.SEALING_STOPPED)
    missing = {
        block.pk: block for block in selectors.blocks_missing_endorsements(recent=ENDORSE_WINDOW_BLOCKS)
    }
    if awaited is not None:
        missing.update((block.pk, block) for block in selectors.blocks_missing_endorsements(entries=awaited))
    endorser = configured_endorser()  # one per round: it reads the registry once for every block
    unable: dict[str, LedgerError] = {}  # CSDs that cannot be asked at all this round (down, no key, no URL)
    otherwise: dict[str, list[int]] = {}  # heights each CSD refuses, having endorsed other blocks there
    for block in sorted(missing.values(), key=lambda block: block.height):
        _, failures = _block_endorsements(block=block, endorser=endorser, skip=unable)
        for code, exc in failures.items():
            if isinstance(exc, EndorsedOtherwise):
                otherwise.setdefault(code, []).append(block.height)
                continue
            log.warning("block %s waits for %s's endorsement: %s", block.height, code, exc)
            if isinstance(exc, EndorserUnavailable | CsdKeyMissing | CsdNotConfigured):
                unable[code] = exc
    if unable:
        log.warning("not asked again this round, for their later blocks: %s", ", ".join(sorted(unable)))
    _endorsed_otherwise_alarms(otherwise, unknown=set(unable))
    try:
        blocks_anchor_pending()
    except LedgerError as exc:  # the node is down, an anchor conflicts or reverted, the account is not the
        # contract's hub: the anchors wait (and ledger_verify --anchors shows it), finality does not
        log.log(logging.WARNING if exc.transient else logging.ERROR, "anchoring waits: %s", exc)
    return [block.height for block in sealed]


def _endorsed_otherwise_alarms(refused: dict[str, list[int]], *, unknown: set[str]) -> None:
    """Logs (ERROR) and raises an alarm for each CSD that refuses blocks because it endorsed other blocks
    at their heights; clears the alarm of every other CSD, but those that could not be asked this round."""
    for code, heights in sorted(refused.items()):
        first, last = min(heights), max(heights)
        where = f"height {first}" if first == last else f"heights {first} to {last} ({len(heights)} blocks)"
        message = (
            f"{code} endorsed other blocks at {where} and refuses the hub's blocks there, so their transfers "
            "wait with their reservations held: the hub lost sealed blocks (a restore, a failover, a database "
            "recreated) and sealed those heights again. Runbook: \"A CSD endorsed other blocks at the hub's "
            'heights" in hub/ledger/README.md'
        )
        log.error("ledger: %s", message)
        alarm_raise(kind=AlarmKind.ENDORSED_OTHERWISE, csd=code, message=message, heights=(first, last))
    alarms_clear(kind=AlarmKind.ENDORSED_OTHERWISE, keep=set(refused) | unknown)


def alarm_raise(*, kind: str, message: str, csd: str = "", heights: tuple[int, int] | None = None) -> Alarm:
    """Raises an alarm, or refreshes the one of that kind and CSD (its first sighting is kept)."""
    now = timezone.now()
    first, last = heights or (None, None)
    alarm, _ = Alarm.objects.update_or_create(
        kind=kind,
        csd=csd,
        defaults={"message": message, "first_height": first, "last_height": last, "seen_at": now},
        create_defaults={
            "message": message,
            "first_height": first,
            "last_height": last,
            "seen_at": now,
            "raised_at": now,
        },
    )
    return alarm


def alarms_clear(*, kind: str, keep: Iterable[str] = ()) -> int:
    """Removes the alarms of ``kind`` (but those of the CSDs in ``keep``): what they said is over."""
    deleted, _ = Alarm.objects.filter(kind=kind).exclude(csd__in=list(keep)).delete()
    return deleted


_last_seal_request = 0.0


def ledger_seal_request() -> None:
    """Asks for sealing now rather than at the next scheduled run, once the caller's transaction commits.

    At most one request per process every ``LEDGER_SEAL_REQUEST_MILLISECONDS``, run that much later: one
    block then gathers what the window's transactions appended, instead of a block (and a round of
    endorsements) per transaction under load. A broker that cannot take the request is logged, not
    raised: the scheduled run seals the entries anyway."""
    from hub.ledger.tasks import seal_blocks

    global _last_seal_request
    window = settings.LEDGER_SEAL_REQUEST_MILLISECONDS / 1000
    now = time.monotonic()
    if window and now - _last_seal_request < window:
        return
    _last_seal_request = now
    # a request still queued after a few seconds is stale (a later one, or beat's, seals the same entries)
    transaction.on_commit(
        lambda: seal_blocks.apply_async(countdown=window or None, expires=window + 5), robust=True
    )
