"""Commission rounding over many random orders, refunds and settlements: no fen is
created or lost, and every merchant's accounts hold exactly its closed-form share."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments import ledger
from payments.gateways.base import RefundState
from payments.ledger import checks as ledger_check
from payments.services import refund_issue
from settlement.services import order_settle
from tests.factories import CourseFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

order_plans = st.lists(
    st.fixed_dictionaries(
        {
            "price": st.integers(1, 50_000),  # refunds above 500 yuan need a second approver
            "merchant": st.integers(0, 2),
            # refunds as fractions of what is left, before and after settlement
            "before": st.lists(st.integers(1, 100), max_size=2),
            "settle": st.booleans(),
            "after": st.lists(st.integers(1, 100), max_size=2),
        }
    ),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rates=st.lists(st.integers(0, 10_000), min_size=3, max_size=3), plans=order_plans)
def test_random_orders_refunds_and_settlements_keep_every_fen(
    rates, plans, buy, support, gateway_refunds, django_capture_on_commit_callbacks
):
    gateway_refunds.answer = RefundState.SUCCEEDED
    merchants = [MerchantFactory(commission_rate=Decimal(rate) / 10_000) for rate in rates]
    expected = {m.pk: {"pending": 0, "available": 0} for m in merchants}
    commission_expected = 0
    before_commission = -ledger.account_balances().get(ledger.PLATFORM_COMMISSION, 0)

    def refund(order, percent):
        left = order.total - order.refunded_amount
        amount = max(1, left * percent // 100)
        if left == 0:
            return
        with django_capture_on_commit_callbacks(execute=True):
            refund_issue(actor=support, order_id=order.pk, amount=amount, reason="random")
        order.refresh_from_db()

    for plan in plans:
        merchant = merchants[plan["merchant"]]
        order, payment = buy(UserFactory(), CourseFactory(merchant=merchant, price=plan["price"]))
        for percent in plan["before"]:
            refund(order, percent)
        settled = plan["settle"] and order.status != "refunded"
        if settled:
            later = order.paid_at + django_settings.KPAY_REFUND_WINDOW + timedelta(seconds=1)
            assert order_settle(order_id=order.pk, now=later)
            order.refresh_from_db()
            for percent in plan["after"]:
                refund(order, percent)
        commission = ledger.commission_for(payment.amount, merchant.effective_commission_rate)
        kept = commission - ledger.commission_reversed(
            commission=commission, amount=payment.amount, refunded=order.refunded_amount
        )
        commission_expected += kept
        merchant_keeps = payment.amount - order.refunded_amount - kept
        expected[merchant.pk]["available" if settled else "pending"] += merchant_keeps

    balances = ledger.merchant_balances([m.pk for m in merchants])
    for merchant in merchants:
        got = balances[merchant.pk]
        assert (got["pending"], got["available"]) == (
            expected[merchant.pk]["pending"],
            expected[merchant.pk]["available"],
        )
    commission_now = -ledger.account_balances().get(ledger.PLATFORM_COMMISSION, 0)
    assert commission_now - before_commission == commission_expected
    assert ledger_check.run() == []
