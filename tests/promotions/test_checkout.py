"""Checkout with a coupon: the server-side price, every refusal with its machine code,
and the redemption's life cycle driven by the order's (reserve, release, consume)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from orders.services import order_cancel, order_checkout, order_expire
from promotions import exceptions
from promotions.models import Redemption, RedemptionStatusChange
from promotions.services import coupon_claim, coupon_grant
from tests.factories import CouponFactory, CourseFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_code_prices_the_order_on_the_server_and_reserves_the_coupon(learner, course):
    CouponFactory(code="SPRING10", amount_off=1000)

    order = order_checkout(learner=learner, course_slug=course.slug, coupon=" spring10 ").order

    assert (order.subtotal, order.discount, order.total, order.platform_discount) == (
        10_000,
        1000,
        9000,
        1000,
    )
    redemption = Redemption.objects.get(order=order)
    assert (redemption.status, redemption.amount, redemption.funded_by) == ("reserved", 1000, "platform")


def test_a_percentage_is_rounded_down_and_capped(learner, merchant):
    course = CourseFactory(merchant=merchant, price=9999)
    CouponFactory(code="P15", kind="percent", amount_off=0, percent_off=15)
    CouponFactory(code="P50CAP", kind="percent", amount_off=0, percent_off=50, max_discount=2000)
    other = CourseFactory(merchant=merchant, price=9999)

    assert order_checkout(learner=learner, course_slug=course.slug, coupon="P15").order.discount == 1499
    assert order_checkout(learner=learner, course_slug=other.slug, coupon="P50CAP").order.discount == 2000


def test_a_coupon_never_makes_an_order_free(learner, merchant):
    course = CourseFactory(merchant=merchant, price=500)
    CouponFactory(code="BIG", amount_off=10_000)

    order = order_checkout(learner=learner, course_slug=course.slug, coupon="BIG").order

    assert (order.discount, order.total) == (499, 1)


@pytest.fixture(autouse=True)
def _both_write_paths(write_path):
    """Every test here runs on both write paths (see ``write_path``)."""


@pytest.mark.parametrize(
    ("coupon_kwargs", "error"),
    [
        (
            {
                "code": "OLD",
                "ends_at": timezone.now() - timedelta(seconds=1),
                "starts_at": timezone.now() - timedelta(days=2),
            },
            exceptions.CouponExpired,
        ),
        ({"code": "SOON", "starts_at": timezone.now() + timedelta(days=1)}, exceptions.CouponExpired),
        ({"code": "OFF", "is_active": False}, exceptions.CouponExpired),
        ({"code": "MIN", "min_spend": 10_001}, exceptions.CouponMinimumNotMet),
        ({"code": "OTHER", "scope": "courses"}, exceptions.CouponNotApplicable),
    ],
)
def test_refusals_name_what_is_wrong_and_write_nothing(learner, course, coupon_kwargs, error):
    coupon = CouponFactory(**coupon_kwargs)
    if coupon.scope == "courses":
        coupon.courses.set([CourseFactory()])

    with pytest.raises(error) as raised:
        order_checkout(learner=learner, course_slug=course.slug, coupon=coupon.code)

    assert raised.value.code == error.code
    assert not Order.objects.exists()
    assert not Redemption.objects.exists()


def test_an_unknown_code_is_not_found(learner, course):
    with pytest.raises(exceptions.CouponNotFound):
        order_checkout(learner=learner, course_slug=course.slug, coupon="NOPE")
    assert not Order.objects.exists()


def test_a_merchant_coupon_covers_only_that_merchants_courses(learner, course, merchant):
    CouponFactory(code="MINE", funded_by="merchant", merchant=merchant, scope="merchant")
    stranger = CourseFactory(merchant=MerchantFactory())

    with pytest.raises(exceptions.CouponNotApplicable):
        order_checkout(learner=learner, course_slug=stranger.slug, coupon="MINE")
    order = order_checkout(learner=learner, course_slug=course.slug, coupon="MINE").order
    assert (order.discount, order.platform_discount) == (1000, 0)


def test_a_code_has_a_quantity_and_a_per_learner_limit(learner, merchant):
    courses = CourseFactory.create_batch(3, merchant=merchant)
    CouponFactory(code="TWO", quantity=2, per_learner_limit=1)

    order_checkout(learner=learner, course_slug=courses[0].slug, coupon="TWO")
    with pytest.raises(exceptions.CouponLimitReached):
        order_checkout(learner=learner, course_slug=courses[1].slug, coupon="TWO")
    order_checkout(learner=UserFactory(), course_slug=courses[1].slug, coupon="TWO")
    with pytest.raises(exceptions.CouponExhausted):
        order_checkout(learner=UserFactory(), course_slug=courses[2].slug, coupon="TWO")


def test_cancelling_or_expiring_the_order_releases_the_coupon(learner, merchant):
    first, second, third = CourseFactory.create_batch(3, merchant=merchant)
    CouponFactory(code="ONCE", quantity=1)

    order = order_checkout(learner=learner, course_slug=first.slug, coupon="ONCE").order
    order_cancel(learner=learner, order_no=order.order_no)

    redemption = Redemption.objects.get(order=order)
    assert redemption.status == "released"
    assert RedemptionStatusChange.objects.get(redemption=redemption).transition == "release"
    again = order_checkout(learner=learner, course_slug=second.slug, coupon="ONCE").order
    order_expire(order_id=again.pk)
    assert Redemption.objects.get(order=again).status == "released"
    assert order_checkout(learner=learner, course_slug=third.slug, coupon="ONCE").order.discount == 1000


def test_paying_consumes_the_redemption_with_its_history(learner, course, checkout_and_pay):
    CouponFactory(code="PAID")

    order, payment = checkout_and_pay(learner, course, "PAID")

    assert payment.amount == 9000
    redemption = Redemption.objects.get(order=order)
    assert redemption.status == "consumed"
    assert redemption.consumed_at is not None
    change = RedemptionStatusChange.objects.get(redemption=redemption)
    assert (change.from_status, change.to_status, change.transition) == ("reserved", "consumed", "consume")


def test_a_wallet_coupon_is_claimed_once_and_used_on_one_order(learner, merchant):
    coupon = CouponFactory(code=None, quantity=5)
    first, second = CourseFactory.create_batch(2, merchant=merchant)

    wallet = coupon_claim(learner=learner, coupon_id=coupon.pk)
    with pytest.raises(exceptions.CouponLimitReached):
        coupon_claim(learner=learner, coupon_id=coupon.pk)
    order = order_checkout(learner=learner, course_slug=first.slug, coupon=str(wallet.pk)).order
    assert order.discount == 1000
    with pytest.raises(exceptions.CouponAlreadyUsed):
        order_checkout(learner=learner, course_slug=second.slug, coupon=str(wallet.pk))

    order_cancel(learner=learner, order_no=order.order_no)
    assert (
        order_checkout(learner=learner, course_slug=second.slug, coupon=str(wallet.pk)).order.discount == 1000
    )
    coupon.refresh_from_db()
    assert coupon.issued == 1


def test_someone_elses_wallet_coupon_is_not_found(learner, course):
    coupon = CouponFactory(code=None)
    wallet = coupon_claim(learner=UserFactory(), coupon_id=coupon.pk)

    with pytest.raises(exceptions.CouponNotFound):
        order_checkout(learner=learner, course_slug=course.slug, coupon=str(wallet.pk))


def test_a_code_coupon_cannot_be_claimed_and_an_issued_one_runs_out(learner):
    with pytest.raises(exceptions.CouponNotFound):
        coupon_claim(learner=learner, coupon_id=CouponFactory().pk)
    coupon = CouponFactory(code=None, quantity=1)
    coupon_claim(learner=learner, coupon_id=coupon.pk)
    with pytest.raises(exceptions.CouponExhausted):
        coupon_claim(learner=UserFactory(), coupon_id=coupon.pk)


def test_staff_grant_within_the_quantity(learner, support):
    coupon = CouponFactory(code=None, quantity=3)
    others = UserFactory.create_batch(2)

    granted = coupon_grant(
        actor=support,
        coupon_id=coupon.pk,
        learner_ids=[learner.pk] + [u.pk for u in others],
        reason="apology",
    )

    assert {w.source for w in granted} == {"granted"}
    assert all(w.granted_by == support for w in granted)
    with pytest.raises(exceptions.CouponExhausted):
        coupon_grant(actor=support, coupon_id=coupon.pk, learner_ids=[UserFactory().pk], reason="more")


def test_a_coupon_is_never_dropped_silently_on_an_open_order(learner, course):
    from orders.exceptions import OpenOrderWithoutCoupon

    CouponFactory(code="LATE")
    open_order = order_checkout(learner=learner, course_slug=course.slug).order

    with pytest.raises(OpenOrderWithoutCoupon):
        order_checkout(learner=learner, course_slug=course.slug, coupon="LATE")

    assert not Redemption.objects.exists()
    order_cancel(learner=learner, order_no=open_order.order_no)
    with_coupon = order_checkout(learner=learner, course_slug=course.slug, coupon="LATE")
    again = order_checkout(learner=learner, course_slug=course.slug, coupon="LATE")
    assert with_coupon.order.discount == 1000
    assert (again.order, again.created) == (with_coupon.order, False)
