"""Coupons under real concurrency on PostgreSQL: threads, each with its own connection."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from orders.models import Order
from orders.services import order_checkout
from promotions import exceptions
from promotions.models import Coupon, Redemption, WalletCoupon
from promotions.services import coupon_claim
from tests.factories import CouponFactory, CourseFactory, UserFactory
from tests.flows.test_concurrency import race

# The server allows 100 connections in all (other test runs share it): at most this many at once.
CONNECTIONS = 25


def crowd(n, fn):
    """``n`` calls of ``fn`` from ``CONNECTIONS`` threads (own connections) released together."""
    barrier = threading.Barrier(CONNECTIONS)

    def run(i):
        if i < CONNECTIONS:
            barrier.wait()
        try:
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
        return list(pool.map(run, range(n)))


pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _outcome(fn):
    def run():
        try:
            fn()
            return "ok"
        except exceptions.PromotionError as error:
            return error.code

    return run


def test_100_learners_claiming_the_last_10_coupons_get_exactly_10():
    coupon = CouponFactory(code=None, quantity=50)
    Coupon.objects.filter(pk=coupon.pk).update(issued=40)
    learners = iter(UserFactory.create_batch(100))
    lock = threading.Lock()

    def claim():
        with lock:
            learner = next(learners)
        coupon_claim(learner=learner, coupon_id=coupon.pk)

    outcomes = crowd(100, _outcome(claim))

    assert outcomes.count("ok") == 10
    assert outcomes.count("coupon_exhausted") == 90
    assert WalletCoupon.objects.filter(coupon=coupon).count() == 10
    assert Coupon.objects.get(pk=coupon.pk).issued == 50


def test_one_wallet_coupon_on_two_concurrent_checkouts_is_used_once(learner):
    coupon = CouponFactory(code=None)
    wallet = coupon_claim(learner=learner, coupon_id=coupon.pk)
    courses = iter(CourseFactory.create_batch(2))

    def checkout():
        order_checkout(learner=learner, course_slug=next(courses).slug, coupon=str(wallet.pk))

    outcomes = race(2, _outcome(checkout))

    assert sorted(outcomes) == ["coupon_already_used", "ok"]
    assert Redemption.objects.filter(wallet_coupon=wallet).count() == 1
    assert Order.objects.count() == 1


def test_one_code_on_concurrent_checkouts_by_one_learner_holds_the_per_learner_limit(learner):
    CouponFactory(code="TWICE", per_learner_limit=2)
    courses = iter(CourseFactory.create_batch(8))

    def checkout():
        order_checkout(learner=learner, course_slug=next(courses).slug, coupon="TWICE")

    outcomes = race(8, _outcome(checkout))

    assert outcomes.count("ok") == 2
    assert outcomes.count("coupon_limit_reached") == 6
    assert Redemption.objects.filter(learner=learner).count() == 2
    assert Order.objects.count() == 2


def test_the_last_uses_of_a_code_go_to_exactly_that_many_learners():
    CouponFactory(code="LAST3", quantity=3)
    course = CourseFactory()
    learners = iter(UserFactory.create_batch(20))
    lock = threading.Lock()

    def checkout():
        with lock:
            learner = next(learners)
        order_checkout(learner=learner, course_slug=course.slug, coupon="LAST3")

    outcomes = race(20, _outcome(checkout))

    assert outcomes.count("ok") == 3
    assert outcomes.count("coupon_exhausted") == 17
    assert Order.objects.filter(discount__gt=0).count() == 3


def test_a_per_learner_limit_on_claims_holds_under_concurrency(learner):
    coupon = CouponFactory(code=None, per_learner_limit=3)

    outcomes = race(10, _outcome(lambda: coupon_claim(learner=learner, coupon_id=coupon.pk)))

    assert outcomes.count("ok") == 3
    assert WalletCoupon.objects.filter(learner=learner).count() == 3
