"""When periods end and how many whole days are left (memberships.calendar): local days
in Asia/Shanghai, months clamped to their last day, ends rounded up to the end of the day."""

from datetime import UTC, date, datetime

import pytest

from memberships import calendar
from tests.memberships.helpers import local


@pytest.mark.parametrize(
    "start, period, days, end",
    [
        # A month: the same day next month, to the end of that day.
        ("2026-01-15 14:00", "month", None, "2026-02-16 00:00"),
        # Clamped to the month's last day (and leap years).
        ("2026-01-31 10:00", "month", None, "2026-03-01 00:00"),
        ("2028-01-31 10:00", "month", None, "2028-03-01 00:00"),
        ("2026-12-31 09:00", "month", None, "2027-02-01 00:00"),
        ("2026-11-30 23:59", "quarter", None, "2027-03-01 00:00"),
        ("2028-02-29 08:00", "year", None, "2029-03-01 00:00"),
        # N days = N × 24 h, then the end of that day.
        ("2026-01-15 14:00", "days", 30, "2026-02-15 00:00"),
        ("2026-01-15 00:00", "days", 1, "2026-01-16 00:00"),
        # A stacked period starts at a midnight: already the end of a day, it stays.
        ("2026-02-16 00:00", "month", None, "2026-03-16 00:00"),
        ("2026-03-16 00:00", "year", None, "2027-03-16 00:00"),
    ],
)
def test_period_end(start, period, days, end):
    assert calendar.period_end(start=local(start), period=period, period_days=days) == local(end)


def test_a_period_ends_at_a_shanghai_midnight_whatever_the_utc_clock_says():
    # 2026-01-15 20:00 UTC is already 16 January 04:00 in Shanghai.
    start = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)
    assert start == local("2026-01-16 04:00")
    end = calendar.period_end(start=start, period="days", period_days=1)
    assert end == local("2026-01-18 00:00")
    assert calendar.last_day(end) == date(2026, 1, 17)


def test_whole_days_in_and_left():
    starts, ends = local("2026-01-15 14:00"), local("2026-02-16 00:00")
    assert calendar.days_in(starts_at=starts, ends_at=ends) == 32  # 15 January … 15 February
    # Before it starts: all of them; the day of the refund counts as used; none after the last day.
    assert calendar.days_left(starts_at=starts, ends_at=ends, at=local("2026-01-10 09:00")) == 32
    assert calendar.days_left(starts_at=starts, ends_at=ends, at=local("2026-01-15 14:00")) == 31
    assert calendar.days_left(starts_at=starts, ends_at=ends, at=local("2026-01-28 23:59")) == 18
    assert calendar.days_left(starts_at=starts, ends_at=ends, at=local("2026-02-15 23:59")) == 0
    assert calendar.days_left(starts_at=starts, ends_at=ends, at=local("2026-03-01 00:00")) == 0


def test_a_days_plan_needs_days():
    with pytest.raises(ValueError):
        calendar.period_end(start=local("2026-01-15 14:00"), period="days", period_days=None)
