"""Celery tasks of reconciliation: each takes ids or codes, loads rows and calls one service.

A run that fails for a transient reason (a CSD unreachable) is recorded FAILED and not retried: the next
scheduled run of that CSD does the same work, and a retry would only duplicate it.
"""

from celery import shared_task

from hub.reconciliation import services
from hub.registry.models import CSD


@shared_task(name="hub.reconciliation.run_execute", acks_late=True, ignore_result=True)
def run_execute_task(run_id: int) -> None:
    """Executes a run requested on demand (REST API)."""
    services.run_execute(run_id=run_id)


@shared_task(name=services.TASK_SCHEDULED, acks_late=True, ignore_result=True)
def run_scheduled(csd: str, kind: str) -> int:
    """Beat: one CSD's intraday or end-of-day run."""
    run = services.run_request(csd=CSD.objects.get(code=csd), kind=kind, requested_by="beat", enqueue=False)
    services.run_execute(run_id=run.pk)
    return run.pk


@shared_task(name=services.TASK_SYNC, ignore_result=True)
def schedules_sync() -> int:
    """Beat: every CSD has its two schedules (a CSD added after the migration gets them here)."""
    return services.reconciliation_schedules_ensure()
