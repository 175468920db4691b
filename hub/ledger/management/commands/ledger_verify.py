from django.core.management.base import BaseCommand, CommandError

from hub.ledger import keys, selectors


class Command(BaseCommand):
    help = (
        "Recomputes the whole ledger chain (record hashes, Merkle roots, block hashes and links, heights, "
        "hub signatures across key rotations, CSD endorsements) and names the first break. With --anchors, "
        "also reads every block's root back from the EVM anchor contract."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--anchors", action="store_true", help="compare with the roots anchored on the chain"
        )

    def handle(self, *args, anchors: bool, **options) -> None:
        report = selectors.chain_verify(hub_key_id=keys.configured_hub_key_id())
        if anchors:
            from hub.ledger import evm

            report.findings.extend(selectors.anchors_verify(anchorer=evm.configured_anchorer()))
        if report.first_break is None:
            self.stdout.write(
                f"OK: {report.blocks} blocks, {report.entries} entries verified"
                + (", every root read back from the anchor contract" if anchors else "")
            )
            return
        for finding in report.findings[1:20]:
            self.stderr.write(f"  then: {finding}")
        raise CommandError(
            f"BROKEN: first break at {report.first_break} "
            f"({len(report.findings)} findings in {report.blocks} blocks)"
        )
