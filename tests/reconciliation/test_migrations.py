"""The reconciliation migrations that move data, on PostgreSQL (here) and on the embedded SQLite default of
``make run`` (in a child process): the scenarios are in ``migration_steps``."""

import os
import subprocess
import sys
from pathlib import Path

from . import migration_steps as steps

ROOT = Path(__file__).resolve().parents[2]


def in_child_on_sqlite(directory: Path, scenario: str) -> None:
    """Runs ``migration_steps.<scenario>`` in a child process on a fresh SQLite database in ``directory``,
    as ``make run`` has it (no DATABASE_URL)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {"DEBUG": "true", "HUB_VAR_DIR": str(directory), "DJANGO_SETTINGS_MODULE": "hub.settings"}
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "from django.db import connection\n"
        "assert connection.vendor == 'sqlite'\n"
        f"from tests.reconciliation import migration_steps; migration_steps.{scenario}()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_break_found_before_window_ends_were_recorded_ends_where_the_run_that_last_found_it_looked(db):
    steps.checked_until_is_the_window_end_of_the_run_that_last_found_a_break()


def test_one_isin_stored_on_several_lines_before_0006_is_summed_into_one_line(db):
    steps.duplicate_position_lines_are_summed_into_one()


def test_one_isin_stored_on_several_lines_is_summed_on_the_embedded_sqlite_default_too(tmp_path):
    in_child_on_sqlite(tmp_path, "duplicate_position_lines_are_summed_into_one")


def test_every_close_stored_before_closes_recorded_their_accounts_covers_the_accounts_registered_now(db):
    steps.every_close_stored_before_0008_covers_the_accounts_registered_now()


def test_the_runs_that_found_a_break_become_stretches_and_each_run_still_finds_its_breaks(db):
    steps.runs_that_found_a_break_become_stretches_of_runs_of_one_scope()


def test_the_runs_that_found_a_break_become_stretches_on_the_embedded_sqlite_default_too(tmp_path):
    in_child_on_sqlite(tmp_path, "runs_that_found_a_break_become_stretches_of_runs_of_one_scope")
