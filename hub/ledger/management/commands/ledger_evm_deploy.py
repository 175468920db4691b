from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from hub.ledger import evm
from hub.ledger.errors import LedgerError


class Command(BaseCommand):
    help = (
        "Deploys the LedgerAnchor contract (build for LEDGER_EVM_VERSION) from the hub's account at "
        "LEDGER_EVM_URL and prints its address, for LEDGER_EVM_CONTRACT."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default=settings.LEDGER_EVM_URL)
        parser.add_argument("--evm-version", default=settings.LEDGER_EVM_VERSION)

    def handle(self, *args, url: str | None, evm_version: str, **options) -> None:
        if not url:
            raise CommandError("give the node's JSON-RPC URL: --url or LEDGER_EVM_URL")
        try:
            w3 = evm.connect(url, timeout=settings.LEDGER_EVM_TIMEOUT_SECONDS)
            address = evm.contract_deploy(w3=w3, account=evm.account_from_settings(), evm_version=evm_version)
        except (LedgerError, ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(address)
