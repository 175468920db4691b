from django.core.management.base import BaseCommand, CommandError

from hub.ledger import services
from hub.ledger.errors import LedgerError


class Command(BaseCommand):
    help = (
        "Anchors every sealed block not yet confirmed on the EVM chain (LEDGER_BACKEND=evm), settling first "
        "whatever an earlier run sent."
    )

    def handle(self, *args, **options) -> None:
        try:
            anchors = services.blocks_anchor_pending()
        except LedgerError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{len(anchors)} blocks anchored")
