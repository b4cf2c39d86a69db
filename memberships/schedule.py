"""The renewal calendar: days and hours in the gateway's time zone, as its
:class:`~payments.gateways.withholding.WithholdingRules` say. Pure functions, no database.

Two kinds of gateway rules meet here:

* a **pre-charge notice** (``notice_days > 0``, WeChat Pay papay, the sandbox): a notice
  sent on day N opens a window of ``charge_window_days`` days from N + ``notice_days``;
  a charge outside every window needs a new notice first;
* a **schedule** the gateway keeps (``notice_days == 0``, Alipay 周期扣款): the charge is
  accepted from ``charge_early_days`` before the scheduled day to ``charge_window_days - 1``
  after it; a charge later than that moves the schedule first
  (``Withholding.agreement_reschedule``).

In both, charges (and notices) happen only within ``charge_hours``, and monthly schedules
fall on day ``last_monthly_charge_day`` at the latest.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from payments.gateways.withholding import PeriodUnit, WithholdingRules

from .models import Plan

# The shortest each kind of plan period can be, in days (a gateway's shortest period
# is compared with it).
_PERIOD_MIN_DAYS = {Plan.Period.MONTH: 28, Plan.Period.QUARTER: 89, Plan.Period.YEAR: 365}


def zone(rules: WithholdingRules) -> ZoneInfo:
    return ZoneInfo(rules.timezone)


def local_day(moment: datetime, rules: WithholdingRules) -> date:
    return moment.astimezone(zone(rules)).date()


def within_hours(moment: datetime, rules: WithholdingRules) -> bool:
    start, end = rules.charge_hours
    return start <= moment.astimezone(zone(rules)).time() <= end


def hours_start(day: date, rules: WithholdingRules) -> datetime:
    """When charges may start on ``day`` (the gateway's time zone)."""
    return datetime.combine(day, rules.charge_hours[0], tzinfo=zone(rules))


def day_start(day: date, rules: WithholdingRules) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone(rules))


def plan_period(plan: Plan) -> tuple[PeriodUnit, int]:
    """The plan's period in the agreement's terms."""
    if plan.period == Plan.Period.DAYS:
        return PeriodUnit.DAY, plan.period_days
    return PeriodUnit.MONTH, {Plan.Period.MONTH: 1, Plan.Period.QUARTER: 3, Plan.Period.YEAR: 12}[plan.period]


def plan_min_days(plan: Plan) -> int:
    if plan.period == Plan.Period.DAYS:
        return plan.period_days
    return _PERIOD_MIN_DAYS[plan.period]


def charge_day(ends_at: datetime, rules: WithholdingRules, unit: PeriodUnit | str) -> date:
    """The day a renewal is charged: ``KPAY_RENEWAL_CHARGE_DAYS_BEFORE`` before the
    membership ends, moved back to the gateway's last monthly charge day if need be."""
    day = local_day(ends_at - timedelta(days=settings.KPAY_RENEWAL_CHARGE_DAYS_BEFORE), rules)
    last = rules.last_monthly_charge_day
    if unit == PeriodUnit.MONTH and day.day > last:
        day = day.replace(day=last)
    return day


def notice_lead_days(rules: WithholdingRules) -> int:
    """How many days before the charge day a renewal is planned and the learner told."""
    return max(settings.KPAY_RENEWAL_NOTICE_DAYS, rules.notice_days)


def needs_gateway_notice(rules: WithholdingRules) -> bool:
    return rules.notice_days > 0


def window_after_notice(notice_day: date, rules: WithholdingRules) -> tuple[date, date]:
    first = notice_day + timedelta(days=rules.notice_days)
    return first, first + timedelta(days=rules.charge_window_days - 1)


def window_around(day: date, rules: WithholdingRules) -> tuple[date, date]:
    early = rules.charge_early_days
    return day - timedelta(days=early), day + timedelta(days=rules.charge_window_days - 1)


def charge_limit(rules: WithholdingRules, cap: int) -> int:
    """The most one charge may take: the agreement's cap, within the gateway's."""
    return cap if rules.max_amount is None else min(cap, rules.max_amount)
