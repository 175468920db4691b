"""Who signs a block for each CSD involved in it.

The narrow interface is ``Endorser.endorse``: a CSD code and the block header's canonical bytes in, a
signature and the id of the key that made it out. ``LocalEndorser`` holds one key per CSD (from the
environment or files, see ``keys``); ``AdapterEndorser`` asks the CSD through its adapter's ``endorse``;
``RegistryEndorser`` (the default, ``LEDGER_ENDORSER``) picks the adapter for a CSD whose public key the
registry holds and the local signer for any other.
"""

import base64
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist
from django.utils.module_loading import import_string

from hub.ledger import keys
from hub.ledger.errors import CsdNotConfigured, EndorsedOtherwise, EndorsementRefused, EndorserUnavailable


@dataclass(frozen=True)
class EndorsementSignature:
    csd: str
    key_id: str
    signature: str  # base64 Ed25519 signature of the header bytes


class Endorser(ABC):
    @abstractmethod
    def endorse(self, *, csd_code: str, header: bytes) -> EndorsementSignature:
        """The CSD's signature of a block header. Raises EndorserUnavailable when it cannot be had now,
        CsdNotConfigured when the hub's settings do not say how to ask the CSD, EndorsementRefused when
        the CSD will not sign it."""

    def public_keys(self, *, csd_codes: list[str]) -> dict[str, dict[str, str]]:
        """Public keys this endorser vouches for, by CSD code then key id (beside the registry's)."""
        return {}


class LocalEndorser(Endorser):
    """Signs for each CSD with a key the hub holds: the default until CSDs endorse through their adapters."""

    def endorse(self, *, csd_code: str, header: bytes) -> EndorsementSignature:
        signer = keys.csd_signer(csd_code)
        return EndorsementSignature(csd=csd_code, key_id=signer.key_id, signature=signer.sign(header))

    def public_keys(self, *, csd_codes: list[str]) -> dict[str, dict[str, str]]:
        found = {}
        for code in csd_codes:
            signer = keys.csd_signer(code, create=False)
            if signer is not None:
                found[code] = {signer.key_id: signer.public_key}
        return found


class AdapterEndorser(Endorser):
    """Asks each CSD itself, through its CSD adapter (``CsdAdapter.endorse``): the CSD signs with its own
    key, and the hub checks the signature with the key the registry holds for it (``CSD.signing_public_key``).
    Select it with ``LEDGER_ENDORSER=hub.ledger.endorsers.AdapterEndorser``."""

    def __init__(self, adapter_for: Callable[[str], object] | None = None) -> None:
        self._adapter_for = adapter_for

    def _adapter(self, csd_code: str):
        if self._adapter_for is not None:
            return self._adapter_for(csd_code)
        from hub.registry.adapters import csd_adapter
        from hub.registry.models import CSD

        return csd_adapter(CSD.objects.get(code=csd_code))

    def endorse(self, *, csd_code: str, header: bytes) -> EndorsementSignature:
        from csd_adapters.base import AdapterError, HeightEndorsedOtherwise

        try:
            adapter = self._adapter(csd_code)
        except ObjectDoesNotExist:
            raise CsdNotConfigured(
                f"{csd_code} is not in the hub's registry, so it cannot be asked to endorse"
            ) from None
        except ImproperlyConfigured as exc:
            raise CsdNotConfigured(f"{csd_code} cannot be asked to endorse: {exc}") from exc
        try:
            endorsement = adapter.endorse(header)
        except HeightEndorsedOtherwise as exc:
            raise EndorsedOtherwise(f"{csd_code} refused to endorse: {exc}") from exc
        except AdapterError as exc:
            if exc.permanent:
                raise EndorsementRefused(f"{csd_code} refused to endorse: {exc}") from exc
            raise EndorserUnavailable(f"{csd_code} could not be asked to endorse now: {exc}") from exc
        return EndorsementSignature(
            csd=csd_code,
            key_id=endorsement.key_id,
            signature=base64.b64encode(endorsement.signature).decode(),
        )


class RegistryEndorser(Endorser):
    """The default: a CSD whose key the registry holds (``CSD.signing_public_key``) endorses itself through
    its adapter; any other CSD is endorsed by the local signer. Trust follows the registry either way. One
    instance serves one sealing round: it reads the registry's CSD rows once, for all the CSDs it asks."""

    def __init__(self, adapter_for: Callable[[str], object] | None = None) -> None:
        self.by_adapter = AdapterEndorser(adapter_for or self._adapter)
        self.local = LocalEndorser()
        self._csds = None

    def _csd(self, csd_code: str):
        if self._csds is None:
            from hub.registry.models import CSD

            self._csds = CSD.objects.in_bulk(field_name="code")
        return self._csds.get(csd_code)

    def _adapter(self, csd_code: str):
        from hub.registry.adapters import csd_adapter

        return csd_adapter(self._csd(csd_code))

    def endorse(self, *, csd_code: str, header: bytes) -> EndorsementSignature:
        row = self._csd(csd_code)
        registered = row is not None and bool(row.signing_public_key)
        return (self.by_adapter if registered else self.local).endorse(csd_code=csd_code, header=header)

    def public_keys(self, *, csd_codes: list[str]) -> dict[str, dict[str, str]]:
        return self.local.public_keys(csd_codes=csd_codes)


def configured_endorser() -> Endorser:
    return import_string(settings.LEDGER_ENDORSER)()
