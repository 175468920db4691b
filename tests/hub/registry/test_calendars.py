import datetime as dt

import pytest

from hub.registry.calendars import csd_business_day_add, csd_is_business_day, csd_is_past_cutoff

from .factories import csd


def test_new_year_and_weekends_are_not_business_days_in_moscow():
    nsd = csd()
    assert not csd_is_business_day(nsd, dt.date(2026, 1, 1))
    assert not csd_is_business_day(nsd, dt.date(2026, 11, 28))  # Saturday
    assert csd_is_business_day(nsd, dt.date(2026, 11, 24))


def test_a_saturday_the_russian_government_made_a_working_day_is_a_business_day_at_nsd():
    nsd = csd()
    assert csd_is_business_day(nsd, dt.date(2025, 11, 1))  # worked for Monday 3 November
    assert not csd_is_business_day(nsd, dt.date(2025, 11, 3))
    # so 20 business days from 31 October 2025 end a day earlier than counting weekdays alone
    assert csd_business_day_add(nsd, dt.date(2025, 10, 31), 20) == dt.date(2025, 12, 1)


def test_the_egyptian_weekend_is_friday_and_saturday():
    mcdr = csd("MCDR", country="EG", calendar="EG", timezone="Africa/Cairo", bic="MCDREGCA")
    assert not csd_is_business_day(mcdr, dt.date(2026, 11, 27))  # Friday
    assert csd_is_business_day(mcdr, dt.date(2026, 11, 29))  # Sunday


def test_twenty_business_days_skip_weekends_and_holidays():
    nsd = csd()
    assert csd_business_day_add(nsd, dt.date(2026, 11, 24), 20) == dt.date(2026, 12, 22)
    assert csd_business_day_add(nsd, dt.date(2026, 12, 30), 1) == dt.date(
        2027, 1, 11
    )  # Russian new-year holidays


@pytest.mark.parametrize(
    ("utc", "past"),
    [
        (dt.datetime(2026, 11, 24, 14, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC), True),
    ],
)
def test_cutoff_is_read_in_the_csds_own_time_zone(utc, past):
    assert csd_is_past_cutoff(csd(settlement_cutoff=dt.time(18)), now=utc) is past  # Moscow is UTC+3
