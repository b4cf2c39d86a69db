"""When a membership period ends, and how many days of it are left: the one place the
rules are computed, in the site's time zone (``settings.TIME_ZONE``, Asia/Shanghai, the
time zone the site shows).

* A period starts at an instant (the payment, or the end of the period before it) and
  ends at the **end of a local day**: stored as the next local midnight, exclusive, so
  access lasts while ``now < ends_at``. The last day of access is the local date before it.
* Its length: ``month`` = the same day of the next month, at the same time of day
  (clamped to that month's last day: 31 January + 1 month = 28 or 29 February);
  ``quarter`` = 3 months; ``year`` = 12 months (29 February + 1 year = 28 February);
  ``days`` = N × 24 hours. The instant that gives is then **rounded up to the end of its
  local day** (an instant that is already a local midnight stays: it is the end of the
  day before). So a month bought on 15 January at 14:00 lasts to the end of 15 February,
  and a stacked one starting at that midnight lasts to the end of 15 March.
* **Whole days** (refunds after the window): a period's days are the local dates it
  touches; the days left at an instant are the local dates after that instant's date
  (the day of the refund counts as used), up to the period's last day, and all of them
  if the period has not started.
"""

from calendar import monthrange
from datetime import date, datetime, time, timedelta

from django.utils import timezone

MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _tz():
    return timezone.get_default_timezone()


def local_midnight(day: date) -> datetime:
    """The first instant of a local date."""
    return timezone.make_aware(datetime.combine(day, time.min), _tz())


def end_of_local_day(at: datetime) -> datetime:
    """The next local midnight after ``at``, or ``at`` itself if it is one."""
    local = timezone.localtime(at, _tz())
    midnight = local_midnight(local.date())
    return at if at == midnight else local_midnight(local.date() + timedelta(days=1))


def add_months(at: datetime, months: int) -> datetime:
    """The same local day and time ``months`` later, clamped to the month's last day."""
    local = timezone.localtime(at, _tz())
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, monthrange(year, month)[1])
    return timezone.make_aware(datetime.combine(date(year, month, day), local.time()), _tz())


def period_end(*, start: datetime, period: str, period_days: int | None) -> datetime:
    """Where a period of the given kind starting at ``start`` ends (module docstring)."""
    if period == "days":
        if not period_days or period_days < 1:
            raise ValueError("a plan of N days needs N ≥ 1")
        raw = start + timedelta(days=period_days)
    else:
        raw = add_months(start, MONTHS[period])
    return end_of_local_day(raw)


def last_day(ends_at: datetime) -> date:
    """The last local date of access for a period (or membership) ending at ``ends_at``."""
    return (timezone.localtime(ends_at, _tz()) - timedelta(microseconds=1)).date()


def days_in(*, starts_at: datetime, ends_at: datetime) -> int:
    """The local dates a period touches (at least 1)."""
    first = timezone.localtime(starts_at, _tz()).date()
    return max(1, (last_day(ends_at) - first).days + 1)


def days_left(*, starts_at: datetime, ends_at: datetime, at: datetime) -> int:
    """Whole local days of a period left after the day of ``at`` (all of them before it
    starts, none after its last day)."""
    if at < starts_at:
        return days_in(starts_at=starts_at, ends_at=ends_at)
    today = timezone.localtime(at, _tz()).date()
    return max(0, (last_day(ends_at) - today).days)
