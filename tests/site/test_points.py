"""Points on the site: the points field on the coupon step, the breakdown on the pay
page, "My points" with the history, clear messages for refused points."""

import pytest
from django.urls import reverse

from orders.models import Order
from promotions.points import points_grant
from tests.site.conftest import messages_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def granted(learner, staff):
    return points_grant(
        actor=staff("support", "site-granter"), learner_id=learner.pk, points=3000, reason="hi"
    )


def test_pay_part_with_points_and_see_them_on_my_points(site, course, learner, granted):
    step = site.get(reverse("orders:checkout-coupon", args=[course.slug])).content.decode()
    assert 'name="points"' in step and "You have 3000 points" in step

    placed = site.post(reverse("orders:checkout", args=[course.slug]), {"points": "1200"}, follow=True)

    order = Order.objects.get(learner=learner)
    assert (order.points_used, order.points_discount, order.total) == (1200, 1200, course.price - 1200)
    body = placed.content.decode()
    assert "1200 points" in body and "-¥12.00" in body
    mine = site.get(reverse("promotions:my-points")).content.decode()
    assert "1800" in mine and "Spent on an order" in mine and order.order_no in mine


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ("abc", "Points must be a whole number above zero."),
        ("-3", "Points must be a whole number above zero."),
        ("999999", "Points can pay only part of this price: use fewer points."),
    ],
)
def test_refused_points_come_back_with_their_message(site, course, granted, points, message):
    response = site.post(reverse("orders:checkout", args=[course.slug]), {"points": points}, follow=True)

    assert messages_of(response) == [message]
    assert response.redirect_chain[-1][0] == reverse("orders:checkout-coupon", args=[course.slug])
    assert not Order.objects.exists()


def test_my_points_in_chinese(site, granted):
    page = site.get(reverse("promotions:my-points"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "我的积分" in page
