from django.core.management.base import BaseCommand, CommandError

from hub.registry.selectors import csd_by_code
from hub.registry.services import csd_token_issue


class Command(BaseCommand):
    help = (
        "Issue a new key of the CSD ledger API (/api/v1/ledger/) for a CSD and print it (it is shown only this "
        "once). It is no participant token: the participant API refuses it, and the CSD API refuses theirs."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("code", help="the CSD's code, e.g. NSD")
        parser.add_argument("--label", default="", help="a note on what the token is for")

    def handle(self, *args, code: str, label: str, **options) -> None:
        csd = csd_by_code(code)
        if csd is None:
            raise CommandError(f"no CSD with code {code}")
        self.stdout.write(csd_token_issue(csd=csd, label=label))
