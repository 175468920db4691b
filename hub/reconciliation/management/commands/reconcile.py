"""``manage.py reconcile [--csd CODE] [--schedules]``: one reconciliation run now, in this process."""

from django.core.management.base import BaseCommand, CommandError

from hub.reconciliation import services
from hub.reconciliation.models import Break, Run
from hub.registry.models import CSD


class Command(BaseCommand):
    help = "Reconcile one CSD (or every CSD) with the hub and the shared ledger now; prints the breaks seen."

    def add_arguments(self, parser):
        parser.add_argument("--csd", help="Code of the CSD to reconcile (default: every active CSD)")
        parser.add_argument(
            "--schedules", action="store_true", help="Only make sure every CSD has its beat schedules"
        )

    def handle(self, *args, csd=None, schedules=False, **options):
        if schedules:
            count = services.reconciliation_schedules_ensure()
            self.stdout.write(f"schedules in place for {count} CSDs")
            return
        row = None
        if csd:
            row = CSD.objects.filter(code=csd.upper()).first()
            if row is None:
                raise CommandError(
                    f"no CSD {csd}; known: {', '.join(CSD.objects.values_list('code', flat=True))}"
                )
        run = services.run_request(csd=row, kind=Run.Kind.ON_DEMAND, requested_by="command", enqueue=False)
        try:
            run = services.run_execute(run_id=run.pk)
        except Exception as exc:  # the run is recorded FAILED with the reason; say it and exit non-zero
            raise CommandError(f"run {run.pk} failed: {exc}") from exc
        self.stdout.write(
            f"run {run.pk}: {run.breaks_seen} breaks seen ({run.breaks_opened} new), "
            f"{run.breaks_resolved} resolved"
        )
        for line in filter(None, run.notes.splitlines()):
            self.stdout.write(f"  note: {line}")
        for brk in Break.objects.filter(last_seen_run=run).select_related("csd").order_by("kind", "id"):
            self.stdout.write(
                f"  {brk.kind} {brk.csd or '-'} {brk.isin or '-'} {brk.account or '-'} {brk.reference or '-'}: "
                f"expected {brk.expected}, actual {brk.actual}, difference {brk.difference}"
            )
