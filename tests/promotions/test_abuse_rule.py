"""Coupon abuse: many accounts on one device or IP redeeming the same coupon."""

import pytest

from core.http import ClientInfo
from orders.services import order_checkout
from riskcontrol.backtest import backtest
from tests.factories import CouponFactory, CourseFactory, UserFactory
from tests.risk.test_rules import context, hits

pytestmark = pytest.mark.django_db

PARAMS = {"by": "device", "window_minutes": 60, "max_count": 2}


def _checkout(learner, course, code, device):
    return order_checkout(
        learner=learner,
        course_slug=course.slug,
        coupon=code,
        client=ClientInfo(ip="203.0.113.9", device_id=device),
    ).order


def test_the_third_account_on_one_device_with_the_same_coupon_hits(course):
    CouponFactory(code="FLASH", quantity=10)
    CouponFactory(code="OTHER", quantity=10)
    first, second, third, elsewhere, honest = UserFactory.create_batch(5)
    _checkout(first, course, "FLASH", "dev-1")
    _checkout(second, course, "FLASH", "dev-1")
    _checkout(elsewhere, course, "FLASH", "dev-2")
    _checkout(third, course, "FLASH", "dev-1")
    _checkout(honest, course, "OTHER", "dev-1")

    assert hits("coupon_accounts_per_client", PARAMS, context(third, device_id="dev-1"), stage="payment")
    assert not hits(
        "coupon_accounts_per_client", PARAMS, context(elsewhere, device_id="dev-2"), stage="payment"
    )
    assert not hits("coupon_accounts_per_client", PARAMS, context(honest, device_id="dev-1"), stage="payment")
    by_ip = {**PARAMS, "by": "ip", "max_count": 4}
    assert not hits("coupon_accounts_per_client", by_ip, context(third, ip="203.0.113.9"), stage="payment")


def test_backtest_finds_the_accounts_sharing_a_coupon_on_one_device():
    CouponFactory(code="FLASH", quantity=10)
    learners = UserFactory.create_batch(3)
    orders = [_checkout(learner, CourseFactory(), "FLASH", "dev-9") for learner in learners]

    result = backtest(kind="coupon_accounts_per_client", params=PARAMS, days=1)

    assert result.hit_order_nos == [orders[2].order_no]


def test_at_checkout_the_coupon_given_is_counted_by_code_or_wallet_id(course):
    """At checkout the learner's coupon is not reserved yet: the rule counts the other
    accounts that redeemed, from this client in the window, the coupon given now (a
    code, or one of the learner's wallet coupons); a checkout without a coupon, or with
    another coupon, is not counted."""
    from promotions.services import coupon_claim

    flash = CouponFactory(code="FLASH", quantity=10)
    CouponFactory(code="OTHER", quantity=10)
    first, second, third = UserFactory.create_batch(3)
    _checkout(first, course, "FLASH", "dev-1")
    _checkout(second, course, "flash ", "dev-1")  # codes are read as promotions reads them

    assert hits("coupon_accounts_per_client", PARAMS, context(third, device_id="dev-1", coupon="flash"))
    assert not hits("coupon_accounts_per_client", PARAMS, context(third, device_id="dev-1", coupon="OTHER"))
    assert not hits("coupon_accounts_per_client", PARAMS, context(third, device_id="dev-1", coupon=""))
    assert not hits("coupon_accounts_per_client", PARAMS, context(third, device_id="dev-2", coupon="FLASH"))

    issued = CouponFactory(code=None, quantity=10)
    for learner in (first, second):
        wallet = coupon_claim(learner=learner, coupon_id=issued.pk)
        _checkout(learner, CourseFactory(), str(wallet.pk), "dev-1")
    mine = coupon_claim(learner=third, coupon_id=issued.pk)
    assert hits("coupon_accounts_per_client", PARAMS, context(third, device_id="dev-1", coupon=str(mine.pk)))
    elsewhere = context(third, device_id="dev-9", coupon=str(mine.pk))  # nobody else on that device
    assert not hits("coupon_accounts_per_client", PARAMS, elsewhere)
    assert flash.redemptions.count() == 2


def test_an_enforced_checkout_rule_refuses_the_third_account_before_anything_is_written(course):
    from orders.exceptions import CheckoutRefused
    from orders.models import Order
    from riskcontrol.models import Rule

    Rule.objects.create(name="coupon farm", kind="coupon_accounts_per_client", params=PARAMS, action="block")
    CouponFactory(code="FLASH", quantity=10)
    first, second, third = UserFactory.create_batch(3)
    _checkout(first, course, "FLASH", "dev-1")
    _checkout(second, course, "FLASH", "dev-1")

    with pytest.raises(CheckoutRefused):
        _checkout(third, course, "FLASH", "dev-1")
    assert not Order.objects.filter(learner=third).exists()
    assert _checkout(third, course, None, "dev-1").discount == 0  # without the coupon: fine
