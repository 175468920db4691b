from django.core.management.base import BaseCommand, CommandError

from hub.registry.selectors import participant_by_bic
from hub.registry.services import participant_tokens_revoke


class Command(BaseCommand):
    help = (
        "Revoke a participant's API tokens: the one whose key starts with --prefix, or every one with --all "
        "(a participant leaving, a key leaked). The API refuses a revoked token at once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("bic", help="the participant's BIC")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--prefix", help="the first 12 characters of the key (or more)")
        which.add_argument("--all", action="store_true", help="every live token of the participant")

    def handle(self, *args, bic: str, prefix: str | None, all: bool, **options) -> None:  # noqa: A002
        participant = participant_by_bic(bic)
        if participant is None:
            raise CommandError(f"no participant with BIC {bic}")
        if prefix is not None and len(prefix) < 12:
            raise CommandError("give at least the key's first 12 characters")
        revoked = participant_tokens_revoke(participant=participant, key_prefix=prefix)
        if not revoked:
            raise CommandError(
                f"{participant.bic} has no live token" + (f" {prefix[:12]}…" if prefix else "")
            )
        for key_prefix in revoked:
            self.stdout.write(f"revoked {participant.bic} {key_prefix}…")
