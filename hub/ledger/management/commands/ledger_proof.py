import json

from django.core.management.base import BaseCommand, CommandError

from hub.ledger import selectors
from hub.ledger.errors import LedgerError


class Command(BaseCommand):
    help = "Prints the inclusion proof of a sealed entry as JSON (check it with hub/ledger/verifier.py)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("entry_id", type=int)

    def handle(self, *args, entry_id: int, **options) -> None:
        try:
            proof = selectors.entry_proof(entry_id=entry_id)
        except LedgerError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(proof, indent=2, sort_keys=True))
