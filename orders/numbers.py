"""Public numbers for orders and payments.

They are shown to learners and sent to gateways as ``out_trade_no``, so they must be
valid there (6-32 characters of ``[0-9A-Za-z_-]``) and must not be enumerable: a
date prefix for people reading bills, then 64 bits of randomness.
"""

import secrets
import string
from datetime import UTC, datetime, time, timedelta

from django.utils import timezone

_ALPHABET = string.digits + string.ascii_uppercase
_BASE = len(_ALPHABET)
_RANDOM_CHARS = 13  # 36**13 > 2**64


def new_public_number(prefix: str) -> str:
    """``prefix`` + local date (YYMMDD) + 13 random base-36 characters, e.g. ``K2611249F3KQ0ZP1XT7A``."""
    # One draw of 13 base-36 digits (as uniform as 13 draws of one, and a tenth of the calls).
    value, digits = secrets.randbelow(_BASE**_RANDOM_CHARS), []
    for _ in range(_RANDOM_CHARS):
        value, digit = divmod(value, _BASE)
        digits.append(_ALPHABET[digit])
    random_part = "".join(digits)
    return f"{prefix}{_local_date_text()}{random_part}"


# The last local day asked for: (time zone, its first instant, the next day's first
# instant (both UTC), "YYMMDD").
_day: tuple = (None, None, None, "")


def _local_date_text() -> str:
    """``f"{timezone.localdate():%y%m%d}"``, worked out once per local day and time zone.

    Replaces ``timezone.localdate()`` and the date's formatting on every number (about
    10 µs of the 25 a number cost: the conversion to local time and ``strftime``); the
    current time zone is still asked each time (a request may have activated another), and
    the cached text is used only while now is inside that zone's day, so it changes at
    local midnight, DST transitions included (``tests/core/test_public_numbers.py``)."""
    global _day
    now, zone = timezone.now(), timezone.get_current_timezone()
    cached_zone, starts, ends, text = _day
    if cached_zone is zone and starts <= now < ends:
        return text
    today = timezone.localtime(now, zone).date()
    text = f"{today:%y%m%d}"
    starts = datetime.combine(today, time.min, tzinfo=zone).astimezone(UTC)
    ends = datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    # Kept only when both ends fall in that day, as localdate would say (a midnight that a
    # DST change skips or repeats is then asked of localdate each time, never misdated).
    if (
        starts <= now < ends
        and timezone.localtime(starts, zone).date() == today
        and timezone.localtime(ends - timedelta(microseconds=1), zone).date() == today
    ):
        _day = (zone, starts, ends, text)
    return text
