from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from hub.ledger import keys, services
from hub.ledger.errors import LedgerError


class Command(BaseCommand):
    help = (
        "Hands the hub's ledger signature over to a new key: the announcement, signed by the key in force, "
        "is sealed into the chain. Then configure the new key (LEDGER_HUB_KEY or LEDGER_HUB_KEY_FILE)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("new_key_file", type=Path, help="file holding the new key's base64 seed")

    def handle(self, *args, new_key_file: Path, **options) -> None:
        try:
            new = keys.key_file_read(new_key_file)
            block = services.hub_key_rotate(current=keys.hub_signer(), new=new)
        except (OSError, ValueError, LedgerError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"hub key {new.key_id} announced in block {block.height}; "
            f"now set LEDGER_HUB_KEY_FILE={new_key_file} (or LEDGER_HUB_KEY) and restart the hub"
        )
