"""Reference CSDs for the hub's own CSDs: the seed file each one books, and how the hub reaches it.

A reference CSD (``csd_adapters.reference_csd``) stands in for a CSD's core system in the demo. It must
open with the positions the hub's registry shows, so its seed file is written from the registry, and the
CSD row then records where it listens (``adapter_config["base_url"]``) and its Ed25519 public key, which
the hub needs to check the CSD's endorsements of ledger blocks. Only CSDs with a profile in
``csd_adapters.profiles`` can be run as reference CSDs.

A reference CSD's database outlives the hub's when the hub's is recreated (``var/hub.sqlite3`` deleted, a
docker-compose ``pgdata`` volume dropped): it then holds endorsements of heights the new hub seals again
with other content, which it refuses, and books holding the old hub's transfers, which no longer match the
registry's demo data. The export finds such a CSD by its endorsements (the highest height it endorsed is
above the hub's chain) and starts its books afresh: the old database is kept beside, renamed.
"""

from __future__ import annotations

import base64
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from csd_adapters.profiles import PROFILES
from hub.registry.demo import OPENING
from hub.registry.models import CSD, Denomination, Holding, SecuritiesAccount
from hub.registry.services import csd_key_change

# Where each demo CSD's reference CSD listens on 127.0.0.1 (a convention, see csd_adapters/README.md).
DEFAULT_PORTS = {"NSD": 9101, "STRATE": 9102, "CSCS": 9103, "MCDR": 9104, "KACD": 9105}
DEFAULT_BASE_URL = "http://127.0.0.1:{port}"
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def reference_csd_dir() -> Path:
    """The folder of the reference CSDs' seed files and SQLite databases, inside the hub's VAR_DIR."""
    return Path(settings.VAR_DIR) / "reference_csd"


def reference_csd_database(directory: Path, code: str) -> str:
    return f"sqlite:///{(Path(directory) / f'{code.lower()}.sqlite3').resolve()}"


def reference_csd_seed_path(directory: Path, code: str) -> Path:
    return Path(directory) / f"{code.lower()}.json"


def local_port(csd: CSD) -> int | None:
    """The port of the CSD's base URL when it points at this machine (so ``runhub`` serves it), else None."""
    url = urlsplit((csd.adapter_config or {}).get("base_url") or "")
    if url.hostname in LOCAL_HOSTS and url.port:
        return url.port
    return None


def _quantity(value) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def reference_csd_seed_document(*, csd: CSD) -> dict:
    """The opening books of ``csd`` as a reference CSD seed document: every account of the CSD, every
    security held there and every holding, in a fixed order so the same registry gives the same file."""
    holdings = (
        Holding.objects.filter(account__csd=csd)
        .select_related("account", "security")
        .order_by("security__isin", "account__number")
    )
    securities: dict[str, bool] = {}
    positions = []
    for holding in holdings:
        securities[holding.security.isin] = holding.security.denomination == Denomination.FACE_AMOUNT
        positions.append(
            {
                "account": holding.account.number,
                "isin": holding.security.isin,
                "quantity": _quantity(holding.quantity),
            }
        )
    accounts = SecuritiesAccount.objects.filter(csd=csd).order_by("number").values_list("number", "kind")
    return {
        "opening_date": OPENING.date().isoformat(),
        "securities": [{"isin": isin, "face_amount": famt} for isin, famt in sorted(securities.items())],
        "accounts": [{"number": number, "kind": kind} for number, kind in accounts],
        "positions": positions,
    }


def reference_csd_public_key(*, directory: Path, code: str) -> str:
    """The reference CSD's Ed25519 public key (standard base64 of the 32 raw bytes), from its database in
    ``directory``; the database and its key are created on first use, as ``serve`` would."""
    from csd_adapters.reference_csd.ledger import Ledger

    Path(directory).mkdir(parents=True, exist_ok=True)
    ledger = Ledger(reference_csd_database(directory, code), timezone=PROFILES[code].timezone)
    try:
        return base64.b64encode(ledger.public_key).decode()
    finally:
        ledger.close()


class ReferenceCsdInUse(ValueError):
    """A reference CSD whose books must start afresh is running: its database cannot be replaced now."""


def reference_csd_endorsed_height(*, directory: Path, code: str) -> int:
    """The highest height of the hub's ledger the reference CSD endorsed (0 for none, or no database)."""
    from csd_adapters.reference_csd.ledger import Ledger

    path = Path(directory) / f"{code.lower()}.sqlite3"
    if not path.exists():
        return 0
    ledger = Ledger(reference_csd_database(directory, code), timezone=PROFILES[code].timezone)
    try:
        return ledger.endorsements()["highest"] or 0
    finally:
        ledger.close()


def _listening(base_url: str) -> bool:
    """Whether something accepts connections where the base URL points (the reference CSD, running)."""
    url = urlsplit(base_url)
    try:
        with socket.create_connection((url.hostname, url.port or 80), timeout=1):
            return True
    except OSError:  # refused, timed out, or a host name that does not resolve (its container is down)
        return False


def reference_csd_reset(*, directory: Path, code: str) -> Path:
    """Moves the reference CSD's database aside (``<csd>.sqlite3.stale-<UTC time>``) and creates a fresh
    one with the same signing key, so the CSD is the same signer to the hub with empty books and no
    endorsements; it books its seed file at its next start. Returns where the old database went."""
    from csd_adapters.reference_csd.ledger import Ledger

    url = reference_csd_database(directory, code)
    zone = PROFILES[code].timezone
    old = Ledger(url, timezone=zone)
    seed = bytes(old.signing_key)
    old.close()
    database = Path(directory) / f"{code.lower()}.sqlite3"
    aside = database.with_name(f"{database.name}.stale-{timezone.now():%Y%m%dT%H%M%S%fZ}")
    for suffix in ("", "-wal", "-shm"):  # SQLite's write-ahead log goes with its database
        part = database.with_name(database.name + suffix)
        if part.exists():
            part.replace(aside.with_name(aside.name + suffix))
    Ledger(url, timezone=zone, signing_seed=seed).close()
    return aside


def _stale_books_reset(*, directory: Path, code: str, base_url: str, chain_height: int) -> str:
    """What was done about a reference CSD that endorsed heights above the hub's chain (``""``: none
    did). It was run against a hub database that is gone: its books start afresh unless it is running."""
    endorsed = reference_csd_endorsed_height(directory=directory, code=code)
    if endorsed <= chain_height:
        return ""
    database = Path(directory) / f"{code.lower()}.sqlite3"
    found = (
        f"{code}: its reference CSD ({database}) endorsed the hub's ledger up to height {endorsed}, and the "
        f"hub's ledger holds {chain_height} blocks: the hub's database was recreated while the CSD's was kept"
    )
    if _listening(base_url):
        # the lowest height it refuses, where the hub's sealing task found one; else the next to be sealed
        from hub.ledger.selectors import alarms_open

        refused = [a.first_height for a in alarms_open() if a.csd == code and a.first_height is not None]
        release_from = min([*refused, chain_height + 1])
        raise ReferenceCsdInUse(
            f"{found}. It is running at {base_url}, so its database is not replaced: stop it (Ctrl-C "
            "`make run`; `docker compose stop refcsd-<csd>`) and export again, which starts its books "
            "afresh; or, to keep its books as they are, release its endorsements: curl -X POST -H "
            f"'X-Admin-Token: ...' -d '{{\"from_height\": {release_from}}}' "
            f"{base_url}/admin/endorsements/release"
        )
    aside = reference_csd_reset(directory=directory, code=code)
    return (
        f"{found}. Its books held the old hub's transfers too, which the demo data no longer shows: moved it "
        f"to {aside.name}, and its fresh database (the same key) books the seed file at its next start"
    )


def csd_endpoint_set(*, csd: CSD, base_url: str, public_key: str) -> bool:
    """Record where the hub reaches ``csd`` and the key it signs with; other config keys are kept, and a
    new key goes through the CSD's record of keys (the old one is retired, not forgotten: what the CSD
    endorsed with it still verifies). Returns whether the row changed."""
    config = {**(csd.adapter_config or {}), "base_url": base_url}
    if config == csd.adapter_config and csd.signing_public_key == public_key:
        return False
    with transaction.atomic():
        if config != csd.adapter_config:
            csd.adapter_config = config
            csd.full_clean()
            csd.save(update_fields=["adapter_config"])
        if csd.signing_public_key != public_key:
            csd_key_change(
                csd=csd,
                public_key=public_key,
                cause="manage.py reference_csds export: the reference CSD's key",
            )
    return True


@dataclass(frozen=True, slots=True)
class ExportedCsd:
    code: str
    seed_file: Path
    database: str
    base_url: str
    changed: bool  # the seed file or the CSD row changed
    reset: str = ""  # why and how its database was started afresh, if it was

    def __str__(self) -> str:
        what = "updated" if self.changed else "unchanged"
        return f"{self.code}: {self.base_url}, seed {self.seed_file} ({what})"


def reference_csds_export(
    *,
    directory: Path,
    ports: dict[str, int] | None = None,
    base_url: str = DEFAULT_BASE_URL,
) -> list[ExportedCsd]:
    """Write one seed file per CSD that a reference CSD can stand in for, and record on each CSD row its
    base URL (``base_url`` formatted with ``code``, lower case, and ``port``) and public key.

    Idempotent: an unchanged registry rewrites nothing and saves nothing. A reference CSD that endorsed
    heights above the hub's chain (the hub's database was recreated, the CSD's kept) gets a fresh database
    with the same key (``reset`` says so), or, if it is running, ReferenceCsdInUse says what to do.
    """
    from hub.ledger.selectors import chain_tip

    tip = chain_tip()
    chain_height = tip.height if tip else 0
    ports = {**DEFAULT_PORTS, **(ports or {})}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    exported = []
    for csd in CSD.objects.filter(code__in=list(PROFILES)).order_by("code"):
        if csd.code not in ports:
            raise ValueError(f"no port for the reference CSD of {csd.code}; give one")
        document = reference_csd_seed_document(csd=csd)
        seed_file = reference_csd_seed_path(directory, csd.code)
        text = json.dumps(document, indent=1) + "\n"
        file_changed = not seed_file.exists() or seed_file.read_text() != text
        if file_changed:
            partial = seed_file.with_suffix(".json.tmp")
            partial.write_text(text)
            partial.replace(seed_file)  # a reader never sees half a file
        url = base_url.format(code=csd.code.lower(), port=ports[csd.code])
        reset = _stale_books_reset(
            directory=directory, code=csd.code, base_url=url, chain_height=chain_height
        )
        public_key = reference_csd_public_key(directory=directory, code=csd.code)
        row_changed = csd_endpoint_set(csd=csd, base_url=url, public_key=public_key)
        exported.append(
            ExportedCsd(
                code=csd.code,
                seed_file=seed_file,
                database=reference_csd_database(directory, csd.code),
                base_url=url,
                changed=file_changed or row_changed,
                reset=reset,
            )
        )
    return exported


@dataclass(frozen=True, slots=True)
class ReferenceCsdProcess:
    name: str  # refcsd-nsd
    base_url: str
    seed_file: Path | None  # booked before serving; None when no seed file was exported
    command: list[str]


def reference_csd_processes(*, directory: Path, python: str) -> list[ReferenceCsdProcess]:
    """The reference CSDs that the registry says listen on this machine, each with its command line:
    ``serve`` on the port of the CSD's base URL, on its database in ``directory``, booking its seed file
    there first when there is one (a second start with the same file books nothing)."""
    processes = []
    for csd in CSD.objects.filter(code__in=list(PROFILES)).order_by("code"):
        port = local_port(csd)
        if port is None:
            continue
        command = [python, "-m", "csd_adapters.reference_csd", "serve", "--csd", csd.code]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        command += ["--database", reference_csd_database(directory, csd.code)]
        seed_file = reference_csd_seed_path(directory, csd.code)
        if seed_file.exists():
            command += ["--seed", str(seed_file)]
        processes.append(
            ReferenceCsdProcess(
                name=f"refcsd-{csd.code.lower()}",
                base_url=f"http://127.0.0.1:{port}",
                seed_file=seed_file if seed_file.exists() else None,
                command=command,
            )
        )
    return processes
