"""Who signs a block for each CSD involved in it.

The narrow interface is ``Endorser.endorse``: a CSD code and the block header's canonical bytes in, a
signature and the id of the key that made it out. ``LocalEndorser`` holds one key per CSD (from the
environment or files, see ``keys``); a CSD adapter's own ``endorse`` call plugs in by naming another
Endorser in ``LEDGER_ENDORSER``.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from hub.ledger import keys


@dataclass(frozen=True)
class EndorsementSignature:
    csd: str
    key_id: str
    signature: str  # base64 Ed25519 signature of the header bytes


class Endorser(ABC):
    @abstractmethod
    def endorse(self, *, csd_code: str, header: bytes) -> EndorsementSignature:
        """The CSD's signature of a block header. Raises EndorserUnavailable when it cannot be had now."""

    def public_keys(self, *, csd_codes: list[str]) -> dict[str, str]:
        """Public keys (by key id) this endorser vouches for, used where the registry has none."""
        return {}


class LocalEndorser(Endorser):
    """Signs for each CSD with a key the hub holds: the default until CSDs endorse through their adapters."""

    def endorse(self, *, csd_code: str, header: bytes) -> EndorsementSignature:
        signer = keys.csd_signer(csd_code)
        return EndorsementSignature(csd=csd_code, key_id=signer.key_id, signature=signer.sign(header))

    def public_keys(self, *, csd_codes: list[str]) -> dict[str, str]:
        found = {}
        for code in csd_codes:
            signer = keys.csd_signer(code, create=False)
            if signer is not None:
                found[signer.key_id] = signer.public_key
        return found


def configured_endorser() -> Endorser:
    return import_string(settings.LEDGER_ENDORSER)()
