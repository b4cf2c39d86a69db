"""Random orders with merchant and platform coupons, refunds and settlements: no fen is
created or lost, each merchant holds its closed-form share, and platform:promotions
holds the platform coupons' cost less what refunds took back."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.services import order_checkout
from payments import ledger
from payments.gateways.base import RefundState
from payments.ledger import checks as ledger_check
from payments.services import payment_start, refund_issue
from promotions.services import discount_reversed
from settlement.services import order_settle
from tests.factories import CouponFactory, CourseFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

order_plans = st.lists(
    st.fixed_dictionaries(
        {
            "price": st.integers(2, 50_000),
            "merchant": st.integers(0, 1),
            "coupon": st.sampled_from([None, "platform", "merchant"]),
            "off": st.integers(1, 60_000),
            "before": st.lists(st.integers(1, 100), max_size=2),
            "settle": st.booleans(),
            "after": st.lists(st.integers(1, 100), max_size=2),
        }
    ),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rates=st.lists(st.integers(0, 10_000), min_size=2, max_size=2), plans=order_plans)
def test_random_coupon_orders_refunds_and_settlements_keep_every_fen(
    rates, plans, sandbox, support, gateway_refunds, django_capture_on_commit_callbacks
):
    gateway_refunds.answer = RefundState.SUCCEEDED
    merchants = [MerchantFactory(commission_rate=Decimal(rate) / 10_000) for rate in rates]
    expected = {m.pk: {"pending": 0, "available": 0} for m in merchants}
    before = ledger.account_balances()
    commission_expected = promotions_expected = 0

    def refund(order, percent):
        left = order.total - order.refunded_amount
        if left == 0:
            return
        with django_capture_on_commit_callbacks(execute=True):
            refund_issue(
                actor=support, order_id=order.pk, amount=max(1, left * percent // 100), reason="random"
            )
        order.refresh_from_db()

    for plan in plans:
        merchant = merchants[plan["merchant"]]
        course = CourseFactory(merchant=merchant, price=plan["price"])
        code = None
        if plan["coupon"]:
            code = CouponFactory(
                amount_off=plan["off"],
                funded_by=plan["coupon"],
                merchant=merchant if plan["coupon"] == "merchant" else None,
                scope="merchant" if plan["coupon"] == "merchant" else "all",
            ).code
        learner = UserFactory()
        order = order_checkout(learner=learner, course_slug=course.slug, coupon=code).order
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
        assert sandbox.pay(payment).status_code == 204
        order.refresh_from_db()
        for percent in plan["before"]:
            refund(order, percent)
        settled = plan["settle"] and order.status != "refunded"
        if settled:
            later = order.paid_at + django_settings.KPAY_REFUND_WINDOW + timedelta(seconds=1)
            assert order_settle(order_id=order.pk, now=later)
            order.refresh_from_db()
            for percent in plan["after"]:
                refund(order, percent)

        funded = order.platform_discount
        price = order.total + funded
        commission = ledger.commission_for(price, merchant.effective_commission_rate)
        share = price - commission
        from_promotions = (min(funded, share), funded - min(funded, share))
        cash_commission = commission - from_promotions[1]
        cash_kept = cash_commission - ledger.commission_reversed(
            commission=cash_commission, amount=order.total, refunded=order.refunded_amount
        )
        taken = discount_reversed(discount=funded, refunded=order.refunded_amount, paid=order.total)
        promo_commission_kept = from_promotions[1] - (
            ledger.commission_reversed(commission=from_promotions[1], amount=funded, refunded=taken)
            if funded
            else 0
        )
        kept = cash_kept + promo_commission_kept
        commission_expected += kept
        promotions_expected += funded - taken
        merchant_keeps = (order.total - order.refunded_amount) + (funded - taken) - kept
        expected[merchant.pk]["available" if settled else "pending"] += merchant_keeps

    balances = ledger.merchant_balances([m.pk for m in merchants])
    for merchant in merchants:
        got = balances[merchant.pk]
        assert (got["pending"], got["available"]) == (
            expected[merchant.pk]["pending"],
            expected[merchant.pk]["available"],
        )
    after = ledger.account_balances()

    def moved(account):
        return after.get(account, 0) - before.get(account, 0)

    assert -moved(ledger.PLATFORM_COMMISSION) == commission_expected
    assert moved(ledger.PLATFORM_PROMOTIONS) == promotions_expected
    assert ledger_check.run() == []
