"""Buying a plan through the checkout every course uses (risk, coupon, points, payment,
journal), delivery of its period, and periods stacking when bought again."""

from datetime import timedelta

import pytest

from courses.models import Enrollment
from memberships.exceptions import PlanNotAvailable
from memberships.models import Membership, MembershipPeriod
from memberships.services.periods import period_grant
from memberships.services.purchase import plan_checkout, plan_purchase
from orders.models import Order
from orders.services import order_place
from payments import ledger
from payments.services import payment_start
from promotions.exceptions import CouponNotApplicable
from tests.factories import CouponFactory, CourseFactory, MerchantFactory
from tests.memberships.helpers import PlanFactory, local

pytestmark = pytest.mark.django_db


def period_of(order) -> MembershipPeriod:
    return MembershipPeriod.objects.get(order_no=order.order_no)


def test_buying_a_plan_places_a_membership_order_and_delivery_grants_a_period(learner, plan, buy_plan, clock):
    clock.set("2026-01-15 14:00")
    order, payment = buy_plan(learner, plan)

    assert order.status == Order.Status.FULFILLED
    assert order.course_ids == [] and order.checkout_key == f"plan:{plan.pk}"
    (line,) = order.line_items
    assert (line.kind, line.plan_id, line.plan_slug, line.amount) == ("membership", plan.pk, plan.slug, 3000)
    period = period_of(order)
    assert (period.sequence, period.price, period.status) == (1, 3000, "active")
    assert period.starts_at == local("2026-01-15 14:00")
    assert period.ends_at == local("2026-02-16 00:00")  # to the end of 15 February
    membership = Membership.objects.get(learner=learner, plan=plan)
    assert membership.ends_at == period.ends_at and membership.grace_until is None
    assert not Enrollment.objects.exists()  # access comes from the period, not enrollments
    # The journal: the merchant's share is pending, the platform's commission booked.
    assert ledger.merchant_balances([plan.merchant_id])[plan.merchant_id]["pending"] == 3000 - 300
    assert payment.amount == 3000


def test_buying_again_before_the_end_extends_from_the_end(learner, plan, buy_plan, clock):
    clock.set("2026-01-15 14:00")
    first, _ = buy_plan(learner, plan)
    clock.set("2026-02-01 09:30")
    second, _ = buy_plan(learner, plan)
    clock.set("2026-02-02 10:00")
    third, _ = buy_plan(learner, plan)

    periods = [period_of(o) for o in (first, second, third)]
    assert [p.sequence for p in periods] == [1, 2, 3]
    assert periods[1].starts_at == periods[0].ends_at == local("2026-02-16 00:00")
    assert periods[1].ends_at == local("2026-03-16 00:00")
    assert periods[2].starts_at == periods[1].ends_at and periods[2].ends_at == local("2026-04-16 00:00")
    assert Membership.objects.get(learner=learner).ends_at == local("2026-04-16 00:00")


def test_buying_after_the_end_starts_a_new_period_at_once(learner, plan, buy_plan, clock):
    clock.set("2026-01-15 14:00")
    buy_plan(learner, plan)
    clock.set("2026-03-02 08:00")
    order, _ = buy_plan(learner, plan)

    period = period_of(order)
    assert period.sequence == 2
    assert (period.starts_at, period.ends_at) == (local("2026-03-02 08:00"), local("2026-04-03 00:00"))


def test_a_period_paid_during_grace_starts_where_the_paid_time_ended(learner, plan, buy_plan, clock, sandbox):
    """A renewal (an order with its own checkout key) charged during dunning: the grace
    days were the new period's first."""
    clock.set("2026-01-15 14:00")
    buy_plan(learner, plan)
    membership = Membership.objects.get(learner=learner)
    Membership.objects.filter(pk=membership.pk).update(grace_until=local("2026-02-20 00:00"))
    clock.set("2026-02-18 10:00")
    order = order_place(
        learner=learner, purchase=plan_purchase(plan=plan, checkout_key=f"renewal:{membership.pk}:2")
    ).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    assert sandbox.pay(payment).status_code == 204

    period = period_of(order)
    assert (period.starts_at, period.ends_at) == (local("2026-02-16 00:00"), local("2026-03-16 00:00"))
    membership.refresh_from_db()
    assert membership.grace_until is None and membership.ends_at == period.ends_at


def test_delivery_is_idempotent(learner, plan, buy_plan):
    order, _ = buy_plan(learner, plan)
    again = period_grant(order=order, at=order.paid_at + timedelta(minutes=5))
    assert again == period_of(order)
    assert MembershipPeriod.objects.count() == 1


def test_a_changed_price_applies_to_new_periods_only(learner, plan, buy_plan):
    first, _ = buy_plan(learner, plan)
    plan.price = 4500
    plan.save()
    second, _ = buy_plan(learner, plan)

    assert (first.total, period_of(first).price) == (3000, 3000)
    assert (second.total, period_of(second).price) == (4500, 4500)
    first.refresh_from_db()
    assert first.line_items[0].amount == 3000


def test_a_plan_off_sale_or_of_an_inactive_merchant_cannot_be_bought(learner, plan):
    plan.is_active = False
    plan.save()
    with pytest.raises(PlanNotAvailable):
        plan_checkout(learner=learner, plan_slug=plan.slug)
    plan.is_active = True
    plan.save()
    plan.merchant.is_active = False
    plan.merchant.save()
    with pytest.raises(PlanNotAvailable):
        plan_checkout(learner=learner, plan_slug=plan.slug)
    with pytest.raises(PlanNotAvailable):
        plan_checkout(learner=learner, plan_slug="no-such-plan")
    assert not Order.objects.exists()


def test_the_open_order_for_a_plan_is_reused(learner, plan):
    first = plan_checkout(learner=learner, plan_slug=plan.slug)
    second = plan_checkout(learner=learner, plan_slug=plan.slug)
    assert first.created and not second.created and first.order.pk == second.order.pk


def test_a_merchant_coupon_and_points_pay_part_of_a_plan(learner, plan, buy_plan, give_points):
    coupon = CouponFactory(
        code="STUDIO5", scope="merchant", merchant=plan.merchant, funded_by="merchant", amount_off=500
    )
    give_points(learner, 1000)

    order, payment = buy_plan(learner, plan, coupon=coupon.code, points=1000)

    # 30.00 - 5.00 (the studio's coupon) - 10.00 (1000 points) = 15.00 paid.
    assert (order.subtotal, order.discount, order.points_discount, order.total) == (3000, 500, 1000, 1500)
    assert payment.amount == 1500 and period_of(order).price == 1500
    assert coupon.redemptions.get().status == "consumed"


def test_a_platform_wide_coupon_applies_to_a_plan(learner, plan, buy_plan):
    coupon = CouponFactory(code="ALL10", scope="all", funded_by="platform", amount_off=1000)
    order, _ = buy_plan(learner, plan, coupon=coupon.code)
    assert (order.discount, order.platform_discount, order.total) == (1000, 1000, 2000)


def test_a_coupon_for_chosen_courses_or_another_merchant_does_not_apply(learner, plan, studio):
    course = studio.courses.get(slug="studio-one")
    CouponFactory(code="ONECOURSE", scope="courses", merchant=studio, funded_by="merchant", courses=[course])
    other = MerchantFactory()
    CourseFactory(merchant=other)
    CouponFactory(code="OTHERSTUDIO", scope="merchant", merchant=other, funded_by="merchant")

    for code in ("ONECOURSE", "OTHERSTUDIO"):
        with pytest.raises(CouponNotApplicable):
            plan_checkout(learner=learner, plan_slug=plan.slug, coupon=code)
    assert not Order.objects.exists()


def test_plans_of_two_merchants_are_two_memberships(learner, plan, buy_plan):
    other = PlanFactory(period="days", period_days=7, price=990)
    buy_plan(learner, plan)
    buy_plan(learner, other)
    assert Membership.objects.filter(learner=learner).count() == 2
