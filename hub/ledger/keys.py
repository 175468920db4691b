"""Ed25519 keys of the hub and of the CSDs' local endorsers, read from the environment or from files.

A key is a 32-byte seed written as base64. A key's id is derived from its public key (see the verifier),
so an id names exactly one key. Development keys are generated into ``LEDGER_KEY_DIR`` only when
``LEDGER_GENERATE_DEV_KEYS`` is on, and each generation is logged as such.
"""

import base64
import binascii
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from nacl.signing import SigningKey

from hub.env import envstr
from hub.ledger.errors import CsdKeyMissing, HubKeyMissing, HubKeyUnusable
from hub.ledger.verifier import key_id_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Signer:
    """A private key ready to sign, with its id and base64 public key."""

    key_id: str
    public_key: str
    signing_key: SigningKey = field(repr=False)

    @classmethod
    def from_seed(cls, seed: bytes) -> "Signer":
        signing_key = SigningKey(seed)
        public = bytes(signing_key.verify_key)
        return cls(key_id_for(public), base64.b64encode(public).decode(), signing_key)

    @classmethod
    def generate(cls) -> "Signer":
        return cls.from_seed(bytes(SigningKey.generate()))

    @property
    def seed_text(self) -> str:
        return base64.b64encode(bytes(self.signing_key)).decode()

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.signing_key.sign(message).signature).decode()


def seed_from_text(text: str, where: str) -> bytes:
    try:
        seed = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where} is not base64") from None
    if len(seed) != 32:
        raise ValueError(f"{where} holds {len(seed)} bytes; an Ed25519 seed has 32")
    return seed


def key_file_read(path: Path) -> Signer:
    return Signer.from_seed(seed_from_text(path.read_text(encoding="ascii"), str(path)))


def key_file_write(path: Path, signer: Signer) -> None:
    """Writes a seed readable by its owner only; refuses to overwrite an existing key (FileExistsError).

    The seed goes to a private temporary file first, then is linked to its name in one step, so a reader
    never sees a key file half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(signer.seed_text + "\n")
        os.link(temporary, path)
    finally:
        os.unlink(temporary)


def hub_key_path() -> Path:
    return Path(settings.LEDGER_HUB_KEY_FILE or settings.LEDGER_KEY_DIR / "hub.key")


def hub_signer() -> Signer:
    """The hub key in use: LEDGER_HUB_KEY, else LEDGER_HUB_KEY_FILE, else the development key file.
    HubKeyUnusable names a configured key that cannot be used (never any of its bytes)."""
    try:
        if settings.LEDGER_HUB_KEY:
            return Signer.from_seed(seed_from_text(settings.LEDGER_HUB_KEY, "LEDGER_HUB_KEY"))
        path = hub_key_path()
        if path.exists():
            return key_file_read(path)
    except (ValueError, OSError) as exc:  # the messages name the source, not the key
        raise HubKeyUnusable(f"the hub's configured key cannot be used: {exc}") from None
    if settings.LEDGER_HUB_KEY_FILE:
        raise HubKeyMissing(f"LEDGER_HUB_KEY_FILE={path} does not exist")
    return _generated(
        path,
        "hub",
        HubKeyMissing(
            "the hub has no ledger signing key, so it refuses to seal blocks. Set LEDGER_HUB_KEY (a base64 "
            "Ed25519 seed) or LEDGER_HUB_KEY_FILE (a file holding one); for a development run set DEBUG=true "
            "or LEDGER_GENERATE_DEV_KEYS=true to generate one."
        ),
    )


def configured_hub_key_id() -> str | None:
    """The id of the hub key configured (environment or file), without generating one; None if there is none.
    A key configured that cannot be used is HubKeyUnusable (HubKeyMissing: a LEDGER_HUB_KEY_FILE missing)."""
    if settings.LEDGER_HUB_KEY or settings.LEDGER_HUB_KEY_FILE or hub_key_path().exists():
        return hub_signer().key_id
    return None


def csd_key_path(csd_code: str) -> Path:
    return settings.LEDGER_KEY_DIR / f"csd-{csd_code}.key"


def csd_signer(csd_code: str, *, create: bool = True) -> Signer | None:
    """A CSD's local endorsement key: LEDGER_CSD_KEY_<CODE>, else the file csd-<CODE>.key in LEDGER_KEY_DIR."""
    configured = envstr(f"LEDGER_CSD_KEY_{csd_code}")
    if configured:
        return Signer.from_seed(seed_from_text(configured, f"LEDGER_CSD_KEY_{csd_code}"))
    path = csd_key_path(csd_code)
    if path.exists():
        return key_file_read(path)
    if not create:
        return None
    return _generated(
        path,
        f"CSD {csd_code}",
        CsdKeyMissing(
            f"no endorsement key for CSD {csd_code}: set LEDGER_CSD_KEY_{csd_code} or write {path}, or endorse "
            "through the CSD's adapter (LEDGER_ENDORSER)"
        ),
    )


def _generated(path: Path, whose: str, refusal: Exception) -> Signer:
    if not settings.LEDGER_GENERATE_DEV_KEYS:
        raise refusal
    signer = Signer.generate()
    try:
        key_file_write(path, signer)
    except FileExistsError:  # another process generated it first: use theirs
        return key_file_read(path)
    log.warning(
        "DEVELOPMENT KEY: generated a new Ed25519 key for %s (key id %s) in %s. Never use it in production.",
        whose,
        signer.key_id,
        path,
    )
    return signer
