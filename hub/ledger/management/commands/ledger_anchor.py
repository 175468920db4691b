from django.core.management.base import BaseCommand, CommandError

from hub.ledger import services
from hub.ledger.errors import LedgerError


class Command(BaseCommand):
    help = (
        "Anchors every sealed block not yet confirmed on the EVM chain (LEDGER_BACKEND=evm), settling first "
        "whatever an earlier run sent. A block whose anchor reverted (FAILED) is sent again only with "
        "--retry-failed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--retry-failed",
            action="store_true",
            help="send a new transaction for each block whose anchor reverted, once its cause is mended",
        )

    def handle(self, *args, retry_failed: bool, **options) -> None:
        try:
            anchors = services.blocks_anchor_pending(retry_failed=retry_failed)
        except LedgerError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{len(anchors)} blocks anchored")
