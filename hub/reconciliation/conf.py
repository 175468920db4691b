"""Configuration of reconciliation, read from the environment through the strict helpers of ``hub.env``.

- ``RECONCILIATION_INTRADAY_SECONDS``: how often each CSD is reconciled during the day (default 900).
- ``RECONCILIATION_EOD_DELAY_MINUTES``: the end-of-day run starts this long after the CSD's settlement
  cut-off, in the CSD's own time zone (default 60).
- ``RECONCILIATION_SYNC_SECONDS``: how often beat makes sure every CSD has its two schedules (default 3600).
- ``RECONCILIATION_CROSS_MAX_AGE_SECONDS``: the oldest statement of another CSD the cross-CSD checks (2 and 3)
  compare with (default twice the intraday interval, so that each CSD's run sees the others' latest
  intraday statements); a CSD whose latest statement is older (down since yesterday, say) leaves its links
  and ISINs unchecked rather than compared with stale figures.
- ``RECONCILIATION_COMMIT_GRACE_SECONDS``: how long a transfer may stay PREPARED or COMMITTING after its
  COMMIT entry (default 3600) before that entry and its legs already committed are breaks for not being
  settled (a CSD that cannot commit for longer, say).
"""

from hub.env import envint


def intraday_seconds() -> int:
    return envint("RECONCILIATION_INTRADAY_SECONDS", 900, minimum=60)


def eod_delay_minutes() -> int:
    return envint("RECONCILIATION_EOD_DELAY_MINUTES", 60, minimum=0)


def sync_seconds() -> int:
    return envint("RECONCILIATION_SYNC_SECONDS", 3600, minimum=60)


def cross_max_age_seconds() -> int:
    return envint("RECONCILIATION_CROSS_MAX_AGE_SECONDS", 2 * intraday_seconds(), minimum=60)


def commit_grace_seconds() -> int:
    return envint("RECONCILIATION_COMMIT_GRACE_SECONDS", 3600, minimum=0)
