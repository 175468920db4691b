"""Runs executed by a real Celery worker through the session's broker: the task beat sends for a CSD's
schedule, and a run an operator requested; the worker reaches NSD's reference CSD over HTTP."""

import json
import time

import pytest
from django.core.management import call_command

from hub.reconciliation import tasks
from hub.reconciliation.models import Run
from hub.reconciliation.services import run_request
from hub.registry.models import CSD
from hub.registry.reference_csds import reference_csd_seed_document
from tests.conftest import celery_worker
from tests.csd_adapters.conftest import own_database, reference_csd_process

pytestmark = pytest.mark.slow


def wait_for(condition, worker, *, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, worker.output()[-3000:]
        time.sleep(0.3)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_scheduled_task_and_a_requested_run(tmp_path):
    call_command("seed_demo", verbosity=0)
    nsd = CSD.objects.get(code="NSD")
    seed = tmp_path / "nsd.json"
    seed.write_text(json.dumps(reference_csd_seed_document(csd=nsd)))
    with (
        own_database(tmp_path, "recon_worker") as database,
        reference_csd_process("NSD", database, ["--seed", str(seed)]) as (base_url, _child),
        celery_worker() as worker,
    ):
        CSD.objects.filter(pk=nsd.pk).update(adapter_config={"base_url": base_url})
        tasks.run_scheduled.delay("NSD", "INTRADAY")  # what beat sends for the NSD intraday entry
        wait_for(lambda: Run.objects.filter(kind="INTRADAY", status="DONE").exists(), worker)
        requested = run_request(csd=nsd, kind=Run.Kind.ON_DEMAND, requested_by="alice")  # enqueued at once
        wait_for(lambda: Run.objects.get(pk=requested.pk).status == "DONE", worker)
        assert "hub.reconciliation.run_scheduled" in worker.output()
        assert "hub.reconciliation.run_execute" in worker.output()
    assert set(Run.objects.values_list("status", flat=True)) == {"DONE"}
