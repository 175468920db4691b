"""The one clock that moments compared across processes are read from.

A CSD's key is in force from the moment the registry recorded it, and an endorsement counts from the moment
the hub stored it; the two are compared later, and they are written by different processes, often on
different machines. On PostgreSQL both are read from the database server's clock, so a few milliseconds
between two hosts' clocks cannot put an endorsement on the wrong side of a key change. SQLite (the embedded
default) runs on one machine: its processes share one clock already.
"""

import datetime as dt

from django.db import connection
from django.utils import timezone


def database_now() -> dt.datetime:
    """The present moment by the database's clock (PostgreSQL's ``clock_timestamp()``: the moment of the
    call, not the start of the transaction, so a caller that has just taken a lock reads a moment after it)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            return cursor.fetchone()[0]
    return timezone.now()
