"""Property tests: across prices, rates, coupons (merchant- or platform-funded), partial
and full refunds before and after settlement, no fen is created or lost, and the
promoter keeps exactly ``C − round_half_up(C × refunded / total)``."""

from collections import defaultdict

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.money import prorate
from payments.ledger import checks as ledger_check
from payments.models import JournalEntry
from promoters.models import OrderReferral, Programme
from promoters.services import click_record, link_for
from tests.factories import CouponFactory, CourseFactory, UserFactory

from .conftest import make_promoter

pytestmark = pytest.mark.django_db


def owed_by_order(order) -> dict[str, int]:
    """What the order's entries left owed to each party (credits less debits), by kind
    of account: merchant, promoter, platform commission, and the platform's sources."""
    owed: dict[str, int] = defaultdict(int)
    entries = JournalEntry.objects.filter(order=order)
    for side, sign in (("credit_account", 1), ("debit_account", -1)):
        for row in entries.values(side).annotate(total=Sum("amount")):
            account = row[side]
            party = account.split(":")[0] if not account.startswith("platform:") else account
            owed[party] += sign * row["total"]
    return owed


order_plans = st.fixed_dictionaries(
    {
        "price": st.integers(min_value=100, max_value=500_000),
        "rate_bp": st.integers(min_value=1, max_value=5000),
        "coupon": st.sampled_from([None, "merchant", "platform"]),
        "coupon_off": st.integers(min_value=1, max_value=99),  # percent of the price
        "refunds": st.lists(st.integers(min_value=1, max_value=100), max_size=3),  # percent of what is left
        "settle_after": st.integers(min_value=0, max_value=4),  # refunds before settling (4: never)
    }
)


@pytest.mark.timeout(900)  # every example pays, refunds and settles through the services
@hypothesis_settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=order_plans)
def test_no_fen_is_created_or_lost(plan, buy_referred, refund, settle, no_refund_window, settings):
    settings.KPAY_REFUND_APPROVAL_THRESHOLD = 10_000_000  # refunds go through at once
    course = CourseFactory(price=plan["price"])
    programme = Programme.objects.create(merchant=course.merchant, rate_bp=plan["rate_bp"])
    programme.courses.add(course)
    promoter = make_promoter(programme)
    link = link_for(promoter=promoter, course_id=course.pk)
    _link, referral = click_record(code=link.code)
    coupon = None
    if plan["coupon"]:
        off = max(1, min(plan["price"] - 1, plan["price"] * plan["coupon_off"] // 100))
        merchant_funded = plan["coupon"] == "merchant"
        coupon = CouponFactory(
            amount_off=off,
            funded_by=plan["coupon"],
            merchant=course.merchant if merchant_funded else None,
            scope="merchant" if merchant_funded else "all",
        ).code
    order, payment = buy_referred(UserFactory(), course, referral, coupon=coupon)
    referred = OrderReferral.objects.get(order=order)
    commission = referred.commission
    assert 0 <= commission <= order.total  # 0: a rate too small for the amount

    for step, percent in enumerate([*plan["refunds"], None]):
        if step == plan["settle_after"] and order.completed_at is None and order.refundable_amount:
            order = settle(order)
        if percent is None or not order.refundable_amount:
            break
        refund(order, max(1, order.refundable_amount * percent // 100))

    owed = owed_by_order(order)
    kept = commission - prorate(commission, order.refunded_amount, order.total)
    # The promoter keeps exactly their share of what was not refunded...
    assert owed["promoter"] == kept
    # ...and the money received, less refunds, is all owed to someone: merchant, promoter
    # or the platform (commission), with what the platform's own sources (a platform
    # coupon, points spent or earned) put in on top.
    paid_in = payment.amount - order.refunded_amount
    sources = sum(v for k, v in owed.items() if k.startswith("platform:") and k != "platform:commission")
    assert owed["merchant"] + owed["promoter"] + owed["platform:commission"] + sources == paid_in
    assert owed["platform:commission"] >= 0 and owed["promoter"] >= 0
    if order.completed_at is None:  # before settlement nobody owes anything back yet
        assert owed["merchant"] >= 0
    assert ledger_check.run() == []
