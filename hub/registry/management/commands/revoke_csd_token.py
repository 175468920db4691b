from django.core.management.base import BaseCommand, CommandError

from hub.registry.selectors import csd_by_code
from hub.registry.services import csd_token_revoke


class Command(BaseCommand):
    help = (
        "Revoke a CSD's keys of the CSD ledger API: the one whose key starts with --prefix, or every one with "
        "--all (a key leaked, a CSD leaving). The API refuses a revoked key at once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("code", help="the CSD's code, e.g. NSD")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--prefix", help="the first 12 characters of the key (or more)")
        which.add_argument("--all", action="store_true", help="every live key of the CSD")

    def handle(self, *args, code: str, prefix: str | None, all: bool, **options) -> None:  # noqa: A002
        csd = csd_by_code(code)
        if csd is None:
            raise CommandError(f"no CSD with code {code}")
        if prefix is not None and len(prefix) < 12:
            raise CommandError("give at least the key's first 12 characters")
        revoked = csd_token_revoke(csd=csd, key_prefix=prefix)
        if not revoked:
            raise CommandError(f"{csd.code} has no live key" + (f" {prefix[:12]}…" if prefix else ""))
        for key_prefix in revoked:
            self.stdout.write(f"revoked {csd.code} {key_prefix}…")
