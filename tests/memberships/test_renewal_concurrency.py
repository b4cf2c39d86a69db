"""One charge per period, with workers racing on PostgreSQL: several beat runs (or
renewal steps) for the same membership at the same moment charge it once."""

from datetime import timedelta

import pytest

from memberships.models import Renewal, RenewalAttempt
from memberships.services import renewal_advance, renewals_run
from tests.concurrency import race
from tests.memberships.renewal_support import beijing, charge_day, only_on, renewal_orders, renewal_payments
from tests.memberships.test_renewal_charging import run_at, signed

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


# Sandbox only: asserts the sandbox's own timings (notice one day ahead, hours from 08:00,
# a three-day window); WeChat waits two days after its notice, Alipay takes no notice.
@only_on("sandbox")
def test_racing_beat_runs_plan_notify_and_charge_once(withholding, membership):
    agreement = signed(withholding, membership)

    # Planning and the gateway's notice, raced (the day before the charge).
    day_before = beijing(charge_day(membership) - timedelta(days=1))
    withholding.set_clock(day_before)
    race(4, lambda: renewals_run(now=day_before))
    assert Renewal.objects.count() == 1
    assert withholding.notices(agreement) == 1

    # The charge, raced.
    charge_time = beijing(charge_day(membership))
    withholding.set_clock(charge_time)
    race(4, lambda: renewals_run(now=charge_time))

    assert withholding.charges(agreement) == ["SUCCESS"]
    assert renewal_payments().count() == 1 and renewal_orders().count() == 1
    assert RenewalAttempt.objects.count() == 1
    assert Renewal.objects.get().status == Renewal.Status.SUCCEEDED


# Not WeChat: notice the day before the charge day (WeChat needs two days).
@only_on("sandbox", "alipay")
def test_racing_steps_of_one_renewal_send_one_charge(withholding, membership):
    agreement = signed(withholding, membership)
    run_at(withholding, beijing(charge_day(membership) - timedelta(days=1)))
    renewal = Renewal.objects.get()
    when = beijing(charge_day(membership), 11)
    withholding.set_clock(when)

    results = race(6, lambda: renewal_advance(renewal_id=renewal.pk, now=when))

    assert "succeeded" in results
    assert withholding.charges(agreement) == ["SUCCESS"]
    assert renewal_payments().count() == 1 and RenewalAttempt.objects.get().sends == 1
