from django.core.management.base import BaseCommand, CommandError

from hub.registry.selectors import participant_by_bic
from hub.registry.services import participant_token_issue


class Command(BaseCommand):
    help = "Issue a new API token for a participant and print it (it is shown only this once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("bic", help="the participant's BIC")
        parser.add_argument("--label", default="", help="a note on what the token is for")

    def handle(self, *args, bic: str, label: str, **options) -> None:
        participant = participant_by_bic(bic)
        if participant is None:
            raise CommandError(f"no participant with BIC {bic}")
        self.stdout.write(participant_token_issue(participant=participant, label=label))
