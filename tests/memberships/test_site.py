"""Membership pages: the plans (all, one merchant's), a plan with its buy form (coupon,
points), buying through the pay page every order uses, and "My memberships"."""

import pytest
from django.urls import reverse

from memberships.models import Membership
from orders.models import Order
from orders.services import order_cancel
from payments.services import payment_start
from tests.factories import CouponFactory
from tests.memberships.helpers import PlanFactory, local
from tests.site.conftest import messages_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(client, learner):
    client.force_login(learner)
    return client


def test_the_merchant_s_membership_page_lists_its_plans_with_a_buy_button(client, plan, studio):
    PlanFactory(merchant=studio, slug="studio-year", title="Studio yearly", period="year", price=29900)
    PlanFactory(merchant=studio, slug="studio-old", title="Studio retired", is_active=False)
    PlanFactory(title="Someone else's plan")

    page = client.get(reverse("memberships:merchant", args=[studio.slug]))

    body = page.content.decode()
    assert page.status_code == 200
    assert "Studio monthly" in body and "Studio yearly" in body
    assert "Studio retired" not in body and "Someone else" not in body
    assert reverse("memberships:buy", args=[plan.slug]) in body
    assert "¥30.00 / 1 month" in body and "Opens every course of Studio, including new ones." in body
    assert client.get(reverse("memberships:merchant", args=["no-such-studio"])).status_code == 404
    index = client.get(reverse("memberships:index")).content.decode()
    assert "Studio yearly" in index and "Someone else&#x27;s plan" in index


def test_buying_on_the_site_goes_to_the_pay_page_and_shows_in_my_memberships(
    site, plan, learner, sandbox, clock
):
    clock.set("2026-01-15 14:00")
    placed = site.post(reverse("memberships:buy", args=[plan.slug]))

    order = Order.objects.get(learner=learner)
    assert placed.status_code == 302 and placed.url == reverse("payments:pay", args=[order.order_no])
    pay_page = site.get(placed.url).content.decode()
    assert "Studio monthly" in pay_page and "¥30.00" in pay_page

    assert (
        sandbox.pay(payment_start(learner=learner, order_no=order.order_no, channel="sandbox")).status_code
        == 204
    )
    result = site.get(reverse("payments:result", args=[order.order_no])).content.decode()
    assert "Your membership is active." in result and reverse("memberships:mine") in result

    mine = site.get(reverse("memberships:mine"))
    body = mine.content.decode()
    assert "Studio monthly" in body and "Active" in body
    assert "the end of 2026-02-15" in body  # access until
    assert "2026-01-15 – 2026-02-15" in body and order.order_no in body
    assert 'class="auto-renew">Off<' in body
    detail = site.get(reverse("orders:detail", args=[order.order_no])).content.decode()
    assert reverse("memberships:mine") in detail


def test_the_plan_page_says_until_when_a_new_period_runs(site, plan, learner, buy_plan, clock):
    clock.set("2026-01-15 14:00")
    page = site.get(reverse("memberships:plan", args=[plan.slug])).content.decode()
    assert "the end of 2026-02-15" in page  # bought now
    buy_plan(learner, plan)
    page = site.get(reverse("memberships:plan", args=[plan.slug])).content.decode()
    assert "Your membership runs until" in page and "the end of 2026-03-15" in page  # one more, stacked


def test_buying_with_a_coupon_and_points_on_the_site(site, plan, learner, give_points):
    CouponFactory(
        code="STUDIO5", scope="merchant", merchant=plan.merchant, funded_by="merchant", amount_off=500
    )
    give_points(learner, 800)
    form = site.get(reverse("memberships:plan", args=[plan.slug])).content.decode()
    assert 'name="points"' in form and 'max="800"' in form

    placed = site.post(
        reverse("memberships:buy", args=[plan.slug]), {"coupon_code": "studio5", "points": "800"}
    )

    order = Order.objects.get(learner=learner)
    assert placed.status_code == 302
    assert (order.discount, order.points_used, order.total) == (500, 800, 1700)


def test_refusals_come_back_as_messages(site, plan, studio):
    course = studio.courses.get(slug="studio-one")
    CouponFactory(code="ONECOURSE", scope="courses", merchant=studio, funded_by="merchant", courses=[course])

    refused = site.post(
        reverse("memberships:buy", args=[plan.slug]), {"coupon_code": "ONECOURSE"}, follow=True
    )
    assert messages_of(refused) == ["This coupon cannot be used for this membership plan."]
    assert refused.redirect_chain[-1][0] == reverse("memberships:plan", args=[plan.slug])
    bad_points = site.post(reverse("memberships:buy", args=[plan.slug]), {"points": "lots"}, follow=True)
    assert messages_of(bad_points) == ["Points must be a whole number above zero."]
    assert not Order.objects.exists()
    assert site.post(reverse("memberships:buy", args=["no-such-plan"])).status_code == 404
    assert site.get(reverse("memberships:buy", args=[plan.slug])).status_code == 405


def test_anonymous_visitors_are_sent_to_log_in(client, plan):
    response = client.post(reverse("memberships:buy", args=[plan.slug]))
    assert response.status_code == 302 and reverse("login") in response.url
    assert client.get(reverse("memberships:mine")).status_code == 302
    assert client.get(reverse("memberships:plan", args=[plan.slug])).status_code == 200


def test_a_closed_membership_order_s_pay_page_links_back_to_the_plan(site, plan, learner):
    site.post(reverse("memberships:buy", args=[plan.slug]))
    order = Order.objects.get(learner=learner)
    order_cancel(learner=learner, order_no=order.order_no)

    page = site.get(reverse("payments:pay", args=[order.order_no]))

    assert page.status_code == 200 and reverse("memberships:plan", args=[plan.slug]) in page.content.decode()
    result = site.get(reverse("payments:result", args=[order.order_no]))
    assert result.status_code == 200


def test_my_memberships_shows_the_renewal_placeholder_state_and_chinese(site, plan, learner, buy_plan, clock):
    clock.set("2026-01-15 14:00")
    buy_plan(learner, plan)
    Membership.objects.filter(learner=learner).update(auto_renew=True, grace_until=local("2026-02-20 00:00"))
    clock.set("2026-02-17 10:00")

    page = site.get(reverse("memberships:mine"))
    assert "memberships/_renewal.html" in [t.name for t in page.templates]
    body = page.content.decode()
    assert "Renewing" in body and 'class="auto-renew">On<' in body
    chinese = site.get(reverse("memberships:mine"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "我的会员" in chinese and "自动续费" in chinese
