"""Merchant coupons on statements: the discount of a merchant's own coupon is not in its
gross sales (the learner did not pay it) and so already out of its net; the statement
shows it (``merchant_coupons``, from the redemptions) net of what refunds took back,
on the days the journal booked the payment and each refund. The README's worked
example (Promotions, "Who pays for it"), figure for figure, in fen."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.services import order_checkout
from payments.models import JournalEntry
from payments.services import payment_start
from settlement import checks
from settlement.coupons import merchant_coupon_days
from settlement.models import SettlementStatement
from settlement.services import statements_generate
from tests.factories import CouponFactory, CourseFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def studio(db):
    return MerchantFactory(commission_rate=Decimal("0.2000"))


@pytest.fixture
def course100(studio):
    return CourseFactory(merchant=studio, price=10_000)


@pytest.fixture
def pay(sandbox):
    def pay(course, code):
        order = order_checkout(learner=UserFactory(), course_slug=course.slug, coupon=code).order
        payment = payment_start(learner=order.learner, order_no=order.order_no, channel="sandbox")
        assert sandbox.pay(payment).status_code == 204
        order.refresh_from_db()
        return order

    return pay


def _available_identity(s: SettlementStatement) -> int:
    return s.opening_available + s.settled - s.charge_backs - s.payouts_requested + s.payouts_returned


def test_the_readme_worked_example(studio, course100, pay, refund, settle, no_refund_window):
    """¥100.00 course, commission 20 %. Order A: the merchant's ¥30.00 coupon, ¥35.00 of
    its ¥70.00 refunded, settled; order B: a platform ¥30.00 coupon, settled. Then, the
    next day, the rest of A refunded (charged back to available)."""
    CouponFactory(code="MINE30", amount_off=3000, funded_by="merchant", merchant=studio, scope="merchant")
    CouponFactory(code="PLAT30", amount_off=3000, funded_by="platform")
    a = pay(course100, "MINE30")
    b = pay(course100, "PLAT30")
    assert (a.total, b.total) == (7000, 7000)
    refund(a, amount=3500)
    settle(a)
    settle(b)
    late = refund(a)  # the other 35.00, after settlement
    today = timezone.localdate()
    tomorrow = today + timedelta(days=1)
    # The journal booked the second refund the next day.
    JournalEntry.objects.filter(refund=late).update(created_at=timezone.now() + timedelta(days=1))

    first, second = (
        statements_generate(period_start=day, now=timezone.now() + timedelta(days=3))[0]
        for day in (today, tomorrow)
    )

    assert first.figures() | {"merchant_coupons": first.merchant_coupons} == {
        "gross_sales": 7000 + 10_000,  # A: what the learner paid; B: the list price
        "refunds": 3500,  # A's first refund
        "commission": 1400 - 700 + 2000,  # 20 % of 70.00, half of it given back; 20 % of 100.00
        "promoter_commission": 0,
        "gateway_fees": 0,
        "net": 2800 + 8000,  # A: 56.00 less 28.00 refunded; B: 80.00
        "platform_coupons": 3000,
        "points_redeemed": 0,
        "merchant_coupons": 3000 - 1500,  # round_half_up(30.00 × 35/70) taken back by the refund
        "settled": 2800 + 8000,
        "charge_backs": 0,
        "payouts_requested": 0,
        "payouts_returned": 0,
        "payouts_paid": 0,
        "opening_available": 0,
        "closing_available": 10_800,
        "order_count": 2,
        "refund_count": 1,
    }
    # Sales at list price net of refunds: A 100.00 − 50.00, B 100.00.
    assert first.gross_sales - first.refunds + first.merchant_coupons == 5000 + 10_000
    assert (second.refunds, second.merchant_coupons, second.charge_backs) == (3500, -1500, 2800)
    assert (second.opening_available, second.closing_available) == (10_800, 8000)
    for statement in (first, second):
        assert statement.closing_available == _available_identity(statement)
    assert list(checks.statements_merchant_coupons()) == []
    assert list(checks.statements_match_journal()) == []


def test_the_days_add_up_to_the_redemptions_less_refunds(studio, course100, pay, refund):
    CouponFactory(
        code="MINE1", amount_off=1000, funded_by="merchant", merchant=studio, scope="merchant", quantity=5
    )
    orders = [pay(course100, "MINE1") for _ in range(3)]
    refund(orders[0], amount=3000)  # of 90.00: round_half_up(10.00 × 30/90) = 3.33
    refund(orders[0], amount=3000)  # cumulative: 6.67 in all, so 3.34 this time
    refund(orders[1])  # in full: all 10.00 back

    days = merchant_coupon_days(merchant_ids=[studio.pk])

    assert days == {(studio.pk, timezone.localdate()): 3 * 1000 - 667 - 1000}
    assert list(checks.statements_merchant_coupons()) == []


def test_a_statement_with_the_wrong_figure_is_reported_and_regenerated(studio, course100, pay):
    CouponFactory(code="MINE30", amount_off=3000, funded_by="merchant", merchant=studio, scope="merchant")
    pay(course100, "MINE30")
    today = timezone.localdate()
    later = timezone.now() + timedelta(days=1)
    [statement] = statements_generate(period_start=today, now=later)
    assert statement.merchant_coupons == 3000
    statement = SettlementStatement.objects.get(merchant=studio)
    SettlementStatement.objects.filter(pk=statement.pk).update(merchant_coupons=0)

    breaches = list(checks.statements_merchant_coupons())
    assert len(breaches) == 1 and f"statement {statement.pk}" in breaches[0]

    [regenerated] = statements_generate(period_start=today, now=later, regenerate=True)
    assert regenerated.merchant_coupons == 3000
    assert list(checks.statements_merchant_coupons()) == []


def test_platform_coupons_and_other_merchants_are_not_merchant_coupons(studio, course100, pay):
    other = CourseFactory(price=10_000)
    CouponFactory(code="PLAT30", amount_off=3000, funded_by="platform")
    CouponFactory(
        code="THEIRS", amount_off=2000, funded_by="merchant", merchant=other.merchant, scope="merchant"
    )
    pay(course100, "PLAT30")
    pay(other, "THEIRS")

    [mine, theirs] = sorted(
        statements_generate(period_start=timezone.localdate(), now=timezone.now() + timedelta(days=1)),
        key=lambda s: s.merchant_id != studio.pk,
    )

    assert (mine.merchant_id, mine.merchant_coupons, mine.platform_coupons) == (studio.pk, 0, 3000)
    assert (theirs.merchant_coupons, theirs.gross_sales) == (2000, 8000)


def test_the_migration_fills_existing_statements(studio, course100, pay, refund):
    """settlement.0010's data step, run over today's models: statements made before the
    figure existed get the one the statements service computes."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("settlement.migrations.0010_statement_merchant_coupons")
    CouponFactory(code="MINE30", amount_off=3000, funded_by="merchant", merchant=studio, scope="merchant")
    refund(pay(course100, "MINE30"), amount=3500)
    statements_generate(period_start=timezone.localdate(), now=timezone.now() + timedelta(days=1))
    SettlementStatement.objects.update(merchant_coupons=0)

    migration.fill_from_the_redemptions(apps, None)

    assert SettlementStatement.objects.get(merchant=studio).merchant_coupons == 1500
