"""No fen created or lost across orders with coupons, points, completion (earning) and
refunds before or after it (returning spent points, clawing earned ones back) (property test):
every ``ledger_check`` invariant holds after each step, the journal still sums to zero,
and clearing holds exactly what learners paid less what was refunded."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.services import order_checkout
from payments import ledger
from payments.gateways.base import RefundState
from payments.ledger import checks as ledger_check
from payments.services import payment_start, refund_issue
from promotions.points import points_grant
from settlement.services import order_settle
from tests.factories import CouponFactory, CourseFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

order_plan = st.fixed_dictionaries(
    {
        "price": st.integers(2, 50_000),
        "coupon": st.sampled_from([None, "platform", "merchant"]),
        "coupon_off": st.integers(1, 20_000),
        "points_share": st.integers(0, 100),
        "refunds": st.lists(st.integers(1, 100), max_size=3),
        "complete_first": st.booleans(),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(plans=st.lists(order_plan, min_size=1, max_size=3), rate=st.sampled_from(["0", "0.1", "0.33", "1"]))
def test_coupons_points_and_refunds_create_or_lose_no_fen(
    plans, rate, sandbox, staff, gateway_refunds, django_capture_on_commit_callbacks
):
    gateway_refunds.answer = RefundState.SUCCEEDED
    support = staff("support", "prop-support") if not hasattr(sandbox, "_support") else sandbox._support
    sandbox._support = support
    sid = transaction.savepoint()
    try:
        learner = UserFactory()
        merchant = MerchantFactory(commission_rate=Decimal(rate))
        points_grant(actor=support, learner_id=learner.pk, points=100_000, reason="property")
        paid_in = refunded_out = 0
        for plan in plans:
            course = CourseFactory(merchant=merchant, price=plan["price"])
            code = None
            if plan["coupon"]:
                code = f"P{course.pk}"
                CouponFactory(
                    code=code,
                    amount_off=plan["coupon_off"],
                    funded_by=plan["coupon"],
                    merchant=merchant if plan["coupon"] == "merchant" else None,
                    scope="merchant" if plan["coupon"] == "merchant" else "all",
                )
            discount = min(plan["coupon_off"], plan["price"] - 1) if code else 0
            cap = min(plan["price"] // 2, plan["price"] - discount - 1)
            points = cap * plan["points_share"] // 100 or None
            order = order_checkout(learner=learner, course_slug=course.slug, coupon=code, points=points).order
            payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
            assert sandbox.pay(payment).status_code == 204
            order.refresh_from_db()
            assert order.total == plan["price"] - discount - (points or 0)
            paid_in += order.total
            if plan["complete_first"]:  # earn points, then refunds claw them back
                assert order_settle(order_id=order.pk, now=order.refund_deadline + timedelta(minutes=1))
                order.refresh_from_db()
            for cut in plan["refunds"]:
                amount = max(1, (order.total - order.refunded_amount) * cut // 100)
                if order.refunded_amount + amount > order.total:
                    break
                with django_capture_on_commit_callbacks(execute=True):
                    refund_issue(actor=support, order_id=order.pk, amount=amount, reason="property")
                order.refresh_from_db()
                refunded_out += amount
                assert ledger_check.run() == []
        balances = ledger.account_balances()
        assert sum(balances.values()) == 0
        assert balances.get(ledger.gateway_clearing("sandbox"), 0) == paid_in - refunded_out
        assert ledger_check.run() == []
    finally:
        transaction.savepoint_rollback(sid)
