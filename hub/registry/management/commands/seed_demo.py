from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from hub.registry.demo import demo_seed
from hub.registry.selectors import book_violations


class Command(BaseCommand):
    help = "Create the demo CSDs, links, participants, securities and opening positions (idempotent)."

    def handle(self, *args, **options) -> None:
        # the check is inside the seed's transaction: books the seed would break are left as they were
        with transaction.atomic():
            report = demo_seed()
            self.stdout.write(str(report))
            violations = book_violations()
            if violations:
                raise CommandError("the books break the invariants:\n" + "\n".join(map(str, violations)))
        self.stdout.write(self.style.SUCCESS("demo data ready; invariants 1-3 hold"))
