"""The merchant's and finance's main pages in the back office render in the browser, after
the real admin login with the staff second factor, and show the business they should."""

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from courses import roles
from tests.factories import CourseFactory, LessonFactory, MerchantFactory, MerchantStaffFactory, UserFactory

from .helpers import admin_log_in, buy_over_http, expect

# ¥99.00 paid, 10% commission: the merchant has ¥89.10 pending (inside the refund window).
PENDING = "89.10"


@pytest.fixture
def business(settings, db):
    """Two studios, one paid order each."""
    settings.KPAY_ADMIN_OTP_REQUIRED = True
    studios = MerchantFactory(name="Our Studio"), MerchantFactory(name="Rival Academy")
    orders = []
    for studio in studios:
        course = CourseFactory(merchant=studio, price=9900)
        LessonFactory(course=course, is_preview=False)
        orders.append(buy_over_http(UserFactory(), course))
    return studios, orders


def open_admin(page, name, *args, query=""):
    """Open an admin page by its URL name: it answers 200, and it is that page (not the login)."""
    url = reverse(f"admin:{name}", args=args) + query
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    expect(page).to_have_url(re.compile(re.escape(url.split("?")[0])))
    return page.locator("#content, main").first


def test_the_merchants_main_pages(new_context, business):
    (ours, _), (our_order, rival_order) = business
    merchant = MerchantStaffFactory(merchant=ours)
    merchant.groups.add(Group.objects.get(name=roles.MERCHANT))
    page = new_context().new_page()
    admin_log_in(page, merchant)

    content = open_admin(page, "index")
    expect(content.get_by_role("link", name=re.compile("Orders", re.I)).first).to_be_visible()

    content = open_admin(page, "orders_order_changelist")
    expect(content).to_contain_text(our_order.order_no)
    expect(content).not_to_contain_text(rival_order.order_no)  # the other studio's business stays hidden

    content = open_admin(page, "settlement_merchantbalance_changelist")
    expect(content).to_contain_text("Our Studio")
    expect(content).to_contain_text(PENDING)
    expect(content).not_to_contain_text("Rival Academy")

    content = open_admin(page, "settlement_dashboard_changelist")
    expect(content.locator("svg").first).to_be_visible()
    expect(content).to_contain_text("99.00")

    open_admin(page, "settlement_payout_changelist")
    open_admin(page, "settlement_settlementstatement_changelist")


def test_finances_main_pages(new_context, business, staff):
    _, (our_order, _) = business
    page = new_context().new_page()
    admin_log_in(page, staff(roles.FINANCE, "finance-fay"))

    content = open_admin(page, "settlement_dashboard_changelist")
    expect(content.locator("svg").first).to_be_visible()
    expect(content).to_contain_text("198.00")  # both studios' sales

    content = open_admin(page, "settlement_merchantbalance_changelist")
    expect(content).to_contain_text("Our Studio")
    expect(content).to_contain_text("Rival Academy")
    expect(content).to_contain_text(PENDING)

    for name in (
        "settlement_payout_changelist",
        "settlement_settlementstatement_changelist",
        "reconciliation_reconciliationrun_changelist",
        "reconciliation_difference_changelist",
    ):
        open_admin(page, name)
    content = open_admin(page, "payments_journalentry_changelist")
    expect(content).to_contain_text(our_order.order_no)
