from django.core.management.base import BaseCommand, CommandError

from hub.ledger import keys, selectors
from hub.ledger.errors import LedgerError

# exit statuses: 0 verified, 1 a break found (the first one named), 3 the chain in the database verified
# but the anchors could not be checked (the EVM node down, the EVM settings unusable); argparse takes 2
BROKEN = 1
ANCHORS_UNCHECKED = 3


class Command(BaseCommand):
    help = (
        "Recomputes the whole ledger chain (record hashes, Merkle roots, block hashes and links, heights, "
        "hub signatures across key rotations, CSD endorsements) and names the first break. With --anchors, "
        "also reads every block's root back from the EVM anchor contract. Exit status: 0 verified, 1 a "
        "break, 3 the anchors could not be checked."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--anchors", action="store_true", help="compare with the roots anchored on the chain"
        )

    def handle(self, *args, anchors: bool, **options) -> None:
        report = selectors.chain_verify(hub_key_id=keys.configured_hub_key_id())
        unchecked = None
        if anchors:
            from hub.ledger import evm

            try:
                report.findings.extend(selectors.anchors_verify(anchorer=evm.configured_anchorer()))
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
            + (", every root read back from the anchor contract" if anchors else "")
        )
