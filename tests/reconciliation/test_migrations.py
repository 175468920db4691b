"""The reconciliation migrations that move data, on PostgreSQL (here) and on the embedded SQLite default of
``make run`` (in a child process): the scenarios are in ``migration_steps``."""

from . import migration_steps as steps


def test_a_break_found_before_window_ends_were_recorded_ends_where_the_run_that_last_found_it_looked(db):
    steps.checked_until_is_the_window_end_of_the_run_that_last_found_a_break()
