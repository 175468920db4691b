"""Errors of reconciliation: one base type, each subclass named after the rule it guards."""


class ReconciliationError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BreakStatusConflict(ReconciliationError):
    """The break is not in a status from which the requested move is allowed."""


class NoteRequired(ReconciliationError):
    """An operator who resolves a break by hand says why."""


class RunNotRunnable(ReconciliationError):
    """The run is not queued (it ran already, or another worker holds it)."""


class NeedsPostgres(ReconciliationError):
    """The checks are SQL written for PostgreSQL (DISTINCT ON, FULL JOIN, jsonb, time zones)."""
