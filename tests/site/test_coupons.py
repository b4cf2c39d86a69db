"""Coupons on the site: claiming into "My coupons", choosing one before placing the order,
the price breakdown on the pay page, and clear messages for refused coupons."""

import pytest
from django.urls import reverse

from orders.models import Order
from promotions.models import WalletCoupon
from tests.factories import CouponFactory
from tests.site.conftest import messages_of

pytestmark = pytest.mark.django_db


def test_claim_on_the_course_page_then_buy_with_the_coupon(site, course, learner):
    coupon = CouponFactory(code=None, name="Welcome gift", amount_off=2000)
    page = reverse("orders:checkout-coupon", args=[course.slug])

    offered = site.get(page)
    assert "Welcome gift" in offered.content.decode()
    claimed = site.post(reverse("promotions:claim", args=[coupon.pk]), {"next": page}, follow=True)
    assert "Welcome gift is in your wallet." in messages_of(claimed)
    wallet = WalletCoupon.objects.get(learner=learner)
    assert "My coupons" in site.get(reverse("promotions:my-coupons")).content.decode()

    placed = site.post(
        reverse("orders:checkout", args=[course.slug]), {"coupon": str(wallet.pk)}, follow=True
    )

    order = Order.objects.get(learner=learner)
    assert (order.subtotal, order.discount, order.total) == (9900, 2000, 7900)
    body = placed.content.decode()
    assert "Subtotal" in body and "-¥20.00" in body and "¥79.00" in body


def test_a_refused_code_comes_back_with_its_message(site, course):
    CouponFactory(code="BIGSPEND", min_spend=100_000)

    response = site.post(
        reverse("orders:checkout", args=[course.slug]), {"coupon_code": "bigspend"}, follow=True
    )

    assert messages_of(response) == ["The price is below this coupon's minimum spend."]
    assert response.redirect_chain[-1][0] == reverse("orders:checkout-coupon", args=[course.slug])
    assert not Order.objects.exists()


def test_an_unknown_code_is_a_message_not_a_404(site, course):
    response = site.post(reverse("orders:checkout", args=[course.slug]), {"coupon_code": "nope"}, follow=True)

    assert response.status_code == 200
    assert messages_of(response) == ["No such coupon."]


def test_coupon_pages_and_refusals_in_chinese(site, course):
    CouponFactory(code=None, name="新人券")

    page = site.get(reverse("promotions:my-coupons"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    refused = site.post(
        reverse("orders:checkout", args=[course.slug]),
        {"coupon_code": "nope"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
        follow=True,
    )

    assert "我的优惠券" in page and "可领取的优惠券" in page and "领取" in page
    assert messages_of(refused) == ["没有这张优惠券。"]
