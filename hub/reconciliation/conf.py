"""Configuration of reconciliation, read from the environment through the strict helpers of ``hub.env``.

- ``RECONCILIATION_INTRADAY_SECONDS``: how often each CSD is reconciled during the day (default 900).
- ``RECONCILIATION_EOD_DELAY_MINUTES``: the end-of-day run starts this long after the CSD's settlement
  cut-off, in the CSD's own time zone (default 60).
- ``RECONCILIATION_SYNC_SECONDS``: how often beat makes sure every CSD has its two schedules (default 3600).
"""

from hub.env import envint


def intraday_seconds() -> int:
    return envint("RECONCILIATION_INTRADAY_SECONDS", 900, minimum=60)


def eod_delay_minutes() -> int:
    return envint("RECONCILIATION_EOD_DELAY_MINUTES", 60, minimum=0)


def sync_seconds() -> int:
    return envint("RECONCILIATION_SYNC_SECONDS", 3600, minimum=60)
