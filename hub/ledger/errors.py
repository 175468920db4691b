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


class HubKeyUnusable(LedgerError):
    """The hub key configured (LEDGER_HUB_KEY, LEDGER_HUB_KEY_FILE) cannot be used: no base64, not a 32-byte
    seed, a file that cannot be read. A setting to mend."""


class HubKeyNotInForce(LedgerError):
    """The configured hub key is not the key the chain names as in force (rotate it in first)."""


class HubKeyRecordInvalid(LedgerError):
    """A sealed HUB_KEY entry's record is no key announcement (edited outside the hub): the hub keys in force
    cannot be told, so nothing is sealed on top of it."""


class CsdKeyMissing(LedgerError):
    """The local endorser has no key for a CSD, and generating a development key is not allowed."""


class CsdNotConfigured(LedgerError):
    """The hub cannot ask a CSD for its endorsement as the registry describes it (no such CSD, no adapter
    base URL, an unknown adapter): a setting to mend, not a moment to wait for."""


class EndorsementInvalid(LedgerError):
    """An endorsement does not verify with the CSD's trusted public key."""


class EndorsementRefused(LedgerError):
    """The CSD refused to endorse the block (a permanent answer from its adapter)."""


class EndorsedOtherwise(EndorsementRefused):
    """The CSD has endorsed another block header at this block's height (its own record says so) and
    endorses no other there until its operator releases that record: the hub lost sealed blocks (a
    restore, a failover, a database recreated) and sealed their heights again with other content. See
    "A CSD endorsed other blocks at the hub's heights" in the ledger's README."""


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


class AnchorSettingsInvalid(LedgerError):
    """The EVM anchor settings cannot be used (an address that is none, a key that is none, no anchor
    contract at the address): a setting to mend, not a moment to wait for."""


class AnchorAccountNotHub(LedgerError):
    """The hub's EVM account is not the account the anchor contract takes anchors from (its ``hub``)."""


class AnchorsIncomplete(LedgerError):
    """Some blocks could not be anchored for reasons of their own (a conflict, a revert); the others were.
    ``failures``: the error of each such block, by height."""

    def __init__(self, failures: dict[int, LedgerError]) -> None:
        self.failures = dict(failures)
        shown = [f"block {height}: {exc}" for height, exc in sorted(self.failures.items())[:5]]
        more = len(self.failures) - len(shown)
        super().__init__(
            f"{len(self.failures)} blocks not anchored: "
            + "; ".join(shown)
            + (f"; and {more} more" if more else "")
        )
