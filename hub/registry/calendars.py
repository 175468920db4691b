"""Business days and local time of a CSD, from its IANA time zone and its holidays calendar."""

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from hub.registry.models import CSD


@lru_cache(maxsize=64)
def _calendar(code: str) -> holidays.HolidayBase:
    return holidays.country_holidays(code)


def csd_local_now(csd: CSD, *, now: dt.datetime | None = None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(ZoneInfo(csd.timezone))


def csd_is_business_day(csd: CSD, day: dt.date) -> bool:
    """Neither a weekend day nor a holiday of the CSD's country; a weekend day its government made a
    working day (Russia moves days off next to holidays that way, and its market works them) is one."""
    return _calendar(csd.calendar).is_working_day(day)


def csd_business_day_add(csd: CSD, day: dt.date, days: int) -> dt.date:
    """The business day ``days`` business days after ``day`` (before it when negative)."""
    step = 1 if days >= 0 else -1
    remaining = abs(days)
    current = day
    while remaining:
        current += dt.timedelta(days=step)
        if csd_is_business_day(csd, current):
            remaining -= 1
    return current


def csd_is_past_cutoff(csd: CSD, *, now: dt.datetime | None = None) -> bool:
    local = csd_local_now(csd, now=now)
    return not csd_is_business_day(csd, local.date()) or local.time() >= csd.settlement_cutoff
