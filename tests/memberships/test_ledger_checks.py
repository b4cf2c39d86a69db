"""``ledger_check`` covers memberships: each breach below is caught, then repaired (the
suite checks the books after every test)."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from memberships.models import Membership, MembershipPeriod
from orders.models import Order
from payments.ledger import checks as ledger_check

pytestmark = pytest.mark.django_db


def breaches() -> list[str]:
    return [b for b in ledger_check.run() if "membership" in b.split(":")[0]]


@pytest.fixture
def bought(learner, plan, buy_plan):
    order, _ = buy_plan(learner, plan)
    second, _ = buy_plan(learner, plan)
    return order, second


def test_the_membership_checks_are_registered_and_sound_books_pass(bought):
    names = {check.__name__ for check in ledger_check.checks()}
    assert {
        "membership_periods_backed_by_orders",
        "membership_orders_have_periods",
        "membership_periods_do_not_overlap",
    } <= names
    assert breaches() == []


def test_a_delivered_membership_order_without_its_period_is_caught(bought):
    order, _ = bought
    period = MembershipPeriod.objects.get(order_no=order.order_no)
    saved = {f.attname: getattr(period, f.attname) for f in period._meta.concrete_fields}
    period.delete()
    assert any(f"order {order.order_no}" in b and "gave no membership period" in b for b in breaches())
    MembershipPeriod.objects.create(**saved)
    assert breaches() == []


def test_a_period_no_order_paid_for_is_caught(bought, learner, plan):
    membership = Membership.objects.get(learner=learner, plan=plan)
    last = membership.periods.order_by("-sequence").first()
    stray = MembershipPeriod.objects.create(
        membership=membership,
        sequence=9,
        order_no="K-NOT-AN-ORDER",
        price=3000,
        starts_at=last.ends_at,
        ends_at=last.ends_at + timedelta(days=30),
    )
    found = breaches()
    assert any("K-NOT-AN-ORDER did not buy it" in b for b in found)
    assert any(f"membership {membership.pk} ends" in b for b in found)  # and the end is not the last period's
    stray.delete()
    assert breaches() == []


def test_a_period_at_another_price_than_its_order_paid_is_caught(bought):
    order, _ = bought
    MembershipPeriod.objects.filter(order_no=order.order_no).update(price=1)
    assert any(f"order {order.order_no} did not buy it" in b for b in breaches())
    MembershipPeriod.objects.filter(order_no=order.order_no).update(price=order.total)


def test_a_period_still_running_for_a_refunded_order_is_caught(bought):
    order, _ = bought
    Order.objects.filter(pk=order.pk).update(status=Order.Status.REFUNDED)
    assert any(f"still runs, but order {order.order_no}" in b for b in breaches())
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FULFILLED)


def test_overlapping_periods_are_caught(bought):
    _, second = bought
    period = MembershipPeriod.objects.get(order_no=second.order_no)
    MembershipPeriod.objects.filter(pk=period.pk).update(starts_at=period.starts_at - timedelta(days=3))
    assert any("overlaps an earlier one" in b for b in breaches())
    MembershipPeriod.objects.filter(pk=period.pk).update(starts_at=period.starts_at)


def test_a_refunded_period_without_its_end_is_caught(bought):
    order, _ = bought
    MembershipPeriod.objects.filter(order_no=order.order_no).update(status="refunded")
    assert any("is refunded but its end says otherwise" in b for b in breaches())
    MembershipPeriod.objects.filter(order_no=order.order_no).update(status="active")


def test_the_command_fails_on_a_broken_membership(bought, capsys):
    order, _ = bought
    MembershipPeriod.objects.filter(order_no=order.order_no).update(price=1)
    with pytest.raises(CommandError):
        call_command("ledger_check")
    assert "membership_periods_backed_by_orders" in capsys.readouterr().err
    MembershipPeriod.objects.filter(order_no=order.order_no).update(price=order.total)
