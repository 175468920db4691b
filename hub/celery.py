"""The Celery application. Tasks live in each domain app's ``tasks.py`` and are found by autodiscovery."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init

from hub.runtime import collector_tune

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")

app = Celery("hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _prepare_embedded_broker(sender: Celery, **_kwargs) -> None:
    """The filesystem transport needs its folders before the first message is written."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
        if key in options:
            os.makedirs(options[key], exist_ok=True)
    backend = sender.conf.result_backend or ""
    if backend.startswith("file://"):
        os.makedirs(backend.removeprefix("file://"), exist_ok=True)


@task_prerun.connect
@task_postrun.connect
def _database_connections_as_for_a_request(**_kwargs) -> None:
    """Around each task, what Django does around a request: a connection older than DB_CONN_MAX_AGE, or
    one an error left unusable, is closed; the next query opens a fresh one or checks the kept one. A task
    run inside a transaction (eagerly, by a caller that holds one) leaves the connection alone."""
    from django.db import close_old_connections, connection

    if not connection.in_atomic_block:
        close_old_connections()


@worker_process_init.connect
def _tune_collector(**_kwargs) -> None:
    """Each pool process, once it has loaded the project (hub.runtime)."""
    collector_tune()
