"""The money rule on the books: a merchant's coupon comes out of the merchant's share
(commission on what the learner paid); a platform coupon is a platform expense
(``platform:promotions``) and the merchant is paid and commissioned on the list price.
Refunds take the discount back in proportion; a full refund returns the coupon."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments import ledger
from payments.gateways.base import RefundState
from payments.services import refund_issue
from promotions.models import Coupon, Redemption
from tests.factories import CouponFactory

pytestmark = pytest.mark.django_db


def _balances():
    balances = ledger.account_balances()
    return lambda account: balances.get(account, 0)


def test_platform_coupon_pays_the_merchant_on_the_list_price(learner, course, merchant, checkout_and_pay):
    CouponFactory(code="PLAT30", amount_off=3000, funded_by="platform")

    _order, payment = checkout_and_pay(learner, course, "PLAT30")

    # list price 100.00, learner pays 70.00, commission 20% of 100.00 = 20.00
    assert payment.amount == 7000
    balance = _balances()
    assert -balance(ledger.merchant_pending(merchant.pk)) == 8000
    assert -balance(ledger.PLATFORM_COMMISSION) == 2000
    assert balance(ledger.PLATFORM_PROMOTIONS) == 3000
    assert balance(ledger.gateway_clearing("sandbox")) == 7000


def test_a_discount_above_the_merchant_share_spills_into_the_commission(
    learner, course, merchant, checkout_and_pay
):
    CouponFactory(code="PLAT90", amount_off=9000, funded_by="platform")

    checkout_and_pay(learner, course, "PLAT90")

    balance = _balances()
    assert -balance(ledger.merchant_pending(merchant.pk)) == 8000
    assert -balance(ledger.PLATFORM_COMMISSION) == 2000
    assert balance(ledger.PLATFORM_PROMOTIONS) == 9000
    assert balance(ledger.gateway_clearing("sandbox")) == 1000


def test_merchant_coupon_comes_out_of_the_merchant_share(learner, course, merchant, checkout_and_pay):
    CouponFactory(code="MINE30", amount_off=3000, funded_by="merchant", merchant=merchant, scope="merchant")

    checkout_and_pay(learner, course, "MINE30")

    # learner pays 70.00; commission 20% of 70.00 = 14.00; the merchant keeps 56.00
    balance = _balances()
    assert -balance(ledger.merchant_pending(merchant.pk)) == 5600
    assert -balance(ledger.PLATFORM_COMMISSION) == 1400
    assert balance(ledger.PLATFORM_PROMOTIONS) == 0


def _refund(support, order, amount, capture):
    with capture(execute=True):
        refund_issue(actor=support, order_id=order.pk, amount=amount, reason="test")
    order.refresh_from_db()


def test_partial_refunds_take_the_discount_back_in_proportion(
    learner, course, merchant, support, gateway_refunds, checkout_and_pay, django_capture_on_commit_callbacks
):
    gateway_refunds.answer = RefundState.SUCCEEDED
    CouponFactory(code="PLAT30", amount_off=3000, funded_by="platform")
    order, _payment = checkout_and_pay(learner, course, "PLAT30")

    _refund(support, order, 3500, django_capture_on_commit_callbacks)  # half of 70.00

    balance = _balances()
    assert balance(ledger.PLATFORM_PROMOTIONS) == 1500
    assert -balance(ledger.merchant_pending(merchant.pk)) == 4000
    assert -balance(ledger.PLATFORM_COMMISSION) == 1000
    redemption = Redemption.objects.get(order=order)
    assert (redemption.status, redemption.reversed_amount) == ("consumed", 1500)

    _refund(support, order, 3500, django_capture_on_commit_callbacks)

    balance = _balances()
    assert balance(ledger.PLATFORM_PROMOTIONS) == 0
    assert balance(ledger.merchant_pending(merchant.pk)) == 0
    assert balance(ledger.PLATFORM_COMMISSION) == 0
    redemption.refresh_from_db()
    assert (redemption.status, redemption.reversed_amount) == ("returned", 3000)


def test_a_full_refund_returns_a_wallet_coupon_to_the_wallet(
    learner, course, merchant, support, gateway_refunds, checkout_and_pay, django_capture_on_commit_callbacks
):
    from promotions.services import coupon_claim
    from tests.factories import CourseFactory

    gateway_refunds.answer = RefundState.SUCCEEDED
    coupon = CouponFactory(code=None, funded_by="platform")
    wallet = coupon_claim(learner=learner, coupon_id=coupon.pk)
    order, _ = checkout_and_pay(learner, course, str(wallet.pk))

    _refund(support, order, order.total, django_capture_on_commit_callbacks)

    assert Redemption.objects.get(order=order).status == "returned"
    other = CourseFactory(merchant=merchant)
    again, _ = checkout_and_pay(learner, other, str(wallet.pk))
    assert again.discount == 1000


@pytest.mark.parametrize("why", ["setting off", "coupon expired"])
def test_a_full_refund_keeps_the_coupon_used_when_told_or_expired(
    why,
    learner,
    course,
    support,
    gateway_refunds,
    checkout_and_pay,
    django_capture_on_commit_callbacks,
    settings,
):
    gateway_refunds.answer = RefundState.SUCCEEDED
    coupon = CouponFactory(code="KEEP")
    order, _ = checkout_and_pay(learner, course, "KEEP")
    if why == "setting off":
        settings.KPAY_COUPON_RETURN_ON_FULL_REFUND = False
    else:
        Coupon.objects.filter(pk=coupon.pk).update(ends_at=timezone.now() - timedelta(seconds=1))

    _refund(support, order, order.total, django_capture_on_commit_callbacks)

    redemption = Redemption.objects.get(order=order)
    assert (redemption.status, redemption.reversed_amount) == ("consumed", 1000)
    assert _balances()(ledger.PLATFORM_PROMOTIONS) == 0
