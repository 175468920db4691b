"""The ledger's errors: one base type, each subclass named after the rule it guards."""


class LedgerError(Exception):
    """Base of every rule the shared ledger enforces. ``transient`` errors are worth retrying."""

    transient = False


class EntryInvalid(LedgerError):
    """An entry to append lacks what the ledger needs (kind, reference, CSD codes, a canonical record)."""


class EntryNotSealed(LedgerError):
    """An inclusion proof was asked for an entry that no block holds (yet)."""


class HubKeyMissing(LedgerError):
    """No hub signing key is configured, and generating a development key is not allowed."""


class HubKeyNotInForce(LedgerError):
    """The configured hub key is not the key the chain names as in force (rotate it in first)."""


class CsdKeyMissing(LedgerError):
    """The local endorser has no key for a CSD, and generating a development key is not allowed."""


class EndorsementInvalid(LedgerError):
    """An endorsement does not verify with the CSD's trusted public key."""


class EndorsementRefused(LedgerError):
    """The CSD refused to endorse the block (a permanent answer from its adapter)."""


class EndorserUnavailable(LedgerError):
    """A CSD could not be asked for its endorsement now (network, timeout); try again later."""

    transient = True


class AnchorConflict(LedgerError):
    """The anchor contract holds a different root for a block's height than the hub's block."""


class AnchorUnavailable(LedgerError):
    """The EVM node could not be reached or did not answer in time; try again later."""

    transient = True


class AnchorFailed(LedgerError):
    """The anchoring transaction was mined but reverted, and the root is not on the chain."""
