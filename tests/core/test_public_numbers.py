"""``orders.numbers.new_public_number``'s date is ``timezone.localdate()``'s, though it
is worked out once per local day: at midnight, across DST changes, in whichever time
zone is active."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from orders import numbers
from orders.numbers import new_public_number

SHANGHAI = ZoneInfo("Asia/Shanghai")
NUMBER = re.compile(r"P(\d{6})[0-9A-Z]{13}")


@pytest.fixture
def clock(monkeypatch):
    """Set the time ``timezone.now()`` gives; the cached day forgotten first."""
    monkeypatch.setattr(numbers, "_day", (None, None, None, ""))
    current = [timezone.now()]
    monkeypatch.setattr(timezone, "now", lambda: current[0])
    return current


def dated(instant) -> str:
    return NUMBER.fullmatch(new_public_number("P")).group(1)


def localdate_text(instant) -> str:
    return f"{timezone.localdate(instant):%y%m%d}"


def test_the_date_changes_at_local_midnight_not_utc_midnight(clock):
    midnight = datetime(2026, 12, 2, tzinfo=SHANGHAI)  # 16:00 UTC the day before
    for instant in (
        midnight - timedelta(hours=2),
        midnight - timedelta(microseconds=1),
        midnight,
        midnight + timedelta(microseconds=1),
        datetime(2026, 12, 2, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 12, 3, tzinfo=UTC),
    ):
        clock[0] = instant.astimezone(UTC)
        assert dated(clock[0]) == localdate_text(clock[0])
    clock[0] = (midnight - timedelta(microseconds=1)).astimezone(UTC)
    assert dated(clock[0]) == "261201"
    clock[0] = midnight.astimezone(UTC)
    assert dated(clock[0]) == "261202"


def test_going_back_in_time_is_dated_too(clock):
    clock[0] = datetime(2026, 12, 2, 12, tzinfo=UTC)
    assert dated(clock[0]) == "261202"
    clock[0] = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert dated(clock[0]) == "261130"


@pytest.mark.parametrize(
    "zone", ["America/New_York", "America/Santiago", "Australia/Lord_Howe", "Asia/Shanghai"]
)
def test_every_hour_around_dst_changes_is_dated_as_localdate(clock, zone):
    """New York changes at 2:00, Santiago at midnight (a skipped, then a repeated
    midnight), Lord Howe by half an hour."""
    with timezone.override(ZoneInfo(zone)):
        for start in (
            datetime(2026, 3, 6, tzinfo=UTC),
            datetime(2026, 4, 2, tzinfo=UTC),
            datetime(2026, 9, 3, tzinfo=UTC),
            datetime(2026, 10, 2, tzinfo=UTC),
            datetime(2026, 10, 30, tzinfo=UTC),
        ):
            for quarter in range(4 * 24 * 5):
                clock[0] = start + timedelta(minutes=15 * quarter)
                assert dated(clock[0]) == localdate_text(clock[0]), clock[0]


def test_the_active_time_zone_is_followed_each_call(clock):
    clock[0] = datetime(2026, 12, 2, 20, tzinfo=UTC)  # Shanghai: the 3rd, 04:00; New York: the 2nd
    assert dated(clock[0]) == "261203"
    with timezone.override(ZoneInfo("America/New_York")):
        assert dated(clock[0]) == "261202"
    assert dated(clock[0]) == "261203"
