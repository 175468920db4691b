import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from hub.ledger import selectors, verifier
from hub.ledger.errors import LedgerError
from hub.ledger.keys import configured_hub_key_id

# exit statuses: 0 verified, 1 a break found (the first one named), 2 unusable input (a key file, the hub
# key configured, or the command line: argparse's), 3 the chain in the database verified but the anchors could not be checked
# (the EVM node down, the EVM settings unusable)
BROKEN = 1
UNUSABLE_INPUT = 2
ANCHORS_UNCHECKED = 3


class Command(BaseCommand):
    help = (
        "Recomputes the whole ledger chain (record hashes, Merkle roots, block hashes and links, heights, "
        "hub signatures across key rotations, CSD endorsements) and names the first break. With --anchors, "
        "also reads every block's root back from the EVM anchor contract. The CSDs' keys are the hub "
        "registry's unless --keys gives them. Exit status: 0 verified, 1 a break, 2 unusable input, 3 the "
        "anchors could not be checked."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--anchors", action="store_true", help="compare with the roots anchored on the chain"
        )
        parser.add_argument(
            "--keys",
            type=Path,
            help='trusted public keys by owner, as JSON: {"hub": {id: key}, "csds": {code: {id: key}}} (the '
            "offline verifier's key file): every block must be signed by one of these hub keys and endorsed "
            "with these CSD keys. Without it the CSDs' keys come from the hub's registry, which whoever can "
            "edit the hub's database can edit too",
        )

    def handle(self, *args, anchors: bool, keys: Path | None, **options) -> None:
        trusted = {} if keys is None else self._trusted(keys)
        try:
            hub_key_id = configured_hub_key_id()
        except LedgerError as exc:  # a LEDGER_HUB_KEY that is no key, a LEDGER_HUB_KEY_FILE missing
            raise CommandError(str(exc), returncode=UNUSABLE_INPUT) from None
        unpinned = hub_key_id is None and keys is None
        if unpinned:
            self.stderr.write(
                "note: the chain's hub key in force was not pinned: no hub key is configured here "
                "(LEDGER_HUB_KEY, LEDGER_HUB_KEY_FILE), so a chain rewritten and re-signed from its first "
                "block with another key would verify; give --keys with the hub keys you trust"
            )
        report = selectors.chain_verify(hub_key_id=hub_key_id, **trusted)
        unchecked = None
        if anchors:
            from hub.ledger import evm

            try:  # what was found before the node dropped (if it does) is kept: a break all the same
                for finding in selectors.anchors_findings(anchorer=evm.configured_anchorer()):
                    report.findings.append(finding)
            except LedgerError as exc:
                unchecked = f"could not check the anchors: {exc}"
        if report.first_break is not None:
            for finding in report.findings[1:20]:
                self.stderr.write(f"  then: {finding}")
            if unchecked:
                self.stderr.write(f"  and {unchecked}")
            raise CommandError(
                f"BROKEN: first break at {report.first_break} "
                f"({len(report.findings)} findings in {report.blocks} blocks)",
                returncode=BROKEN,
            )
        if unchecked:
            raise CommandError(
                f"{unchecked} (the chain in the database verifies: {report.blocks} blocks, "
                f"{report.entries} entries)",
                returncode=ANCHORS_UNCHECKED,
            )
        self.stdout.write(
            f"OK: {report.blocks} blocks, {report.entries} entries verified"
            + (f", with the keys of {keys}" if keys else "")
            + (", every root read back from the anchor contract" if anchors else "")
            + ("; the hub key in force not pinned (no hub key configured)" if unpinned else "")
        )

    @staticmethod
    def _trusted(path: Path) -> dict:
        try:
            offered = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"unusable key file {path}: {exc}", returncode=UNUSABLE_INPUT) from None
        hub_keys, csd_keys, findings = verifier.keys_by_owner(offered)
        if findings:
            raise CommandError(
                f"unusable key file {path}: " + "; ".join(f.problem for f in findings),
                returncode=UNUSABLE_INPUT,
            )
        return {"hub_keys": hub_keys, "csd_keys": csd_keys}
