from decimal import Decimal

import pytest

from orders.services import order_checkout
from payments.services import payment_start
from tests.api.test_purchase_api import token_client  # noqa: F401
from tests.factories import CouponFactory, CourseFactory, MerchantFactory
from tests.refunds.conftest import _english, gateway_refunds, support  # noqa: F401


@pytest.fixture
def merchant(db):
    return MerchantFactory(commission_rate=Decimal("0.2000"))


@pytest.fixture
def course(merchant):
    return CourseFactory(merchant=merchant, price=10_000)


@pytest.fixture
def coupon(db):
    return CouponFactory


@pytest.fixture
def checkout_and_pay(sandbox):
    """Check out ``course`` with ``coupon`` and pay it through the sandbox webhook."""

    def run(learner, course, coupon=None):
        order = order_checkout(learner=learner, course_slug=course.slug, coupon=coupon).order
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
        assert sandbox.pay(payment).status_code == 204
        order.refresh_from_db()
        payment.refresh_from_db()
        return order, payment

    return run


@pytest.fixture(params=["one statement", "orm"])
def write_path(request, monkeypatch):
    """Both ways checkout writes an order with its coupon and points: PostgreSQL's one
    statement with data-modifying CTEs, and the ORM's path that other databases (the
    embedded SQLite default) take. Used by the checkout and points tests, so each rule
    is checked on both."""
    if request.param == "orm":
        import orders.services

        monkeypatch.setattr(orders.services, "one_statement_writes", lambda: False)
    return request.param
