"""A learner buys a course in the browser, paying with each simulated channel at its
cashier, and ends in the course; and a decline at the cashier leaves the order payable."""

import re

import pytest
from django.urls import reverse

from courses.models import Enrollment
from orders.models import Order
from payments.models import Payment
from tests.cashier import wait_for

from .helpers import cashier_link, choose_channel_and_pay, expect, log_in, pay_at_cashier

# A channel of each gateway with a simulator: the sandbox, WeChat Pay (native QR), Alipay (QR).
CHANNELS = ["sandbox", "wechat_native", "alipay_qr"]


def start_paying(page, learner, course, channel):
    """Log in, open the course, Buy, choose ``channel``: the pay page shows the QR code and
    the way to the cashier. Returns the order."""
    log_in(page, learner, next_url=course.get_absolute_url())
    page.get_by_role("button", name=re.compile(r"^Buy")).click()
    expect(page).to_have_url(re.compile(r"/payments/pay/K\w+/"))
    order = Order.objects.get(learner=learner)
    choose_channel_and_pay(page, channel)
    expect(page.get_by_role("img", name=re.compile("QR code", re.I))).to_be_visible()
    return order


@pytest.mark.parametrize("channel", CHANNELS)
def test_buying_a_course_through_the_cashier_opens_the_course(new_context, learner, course, channel):
    page = new_context().new_page()
    order = start_paying(page, learner, course, channel)
    href = cashier_link(page).get_attribute("href")

    phone = new_context().new_page()  # the learner's phone, which scanned the code
    phone.goto(href)
    pay_at_cashier(phone, "pay")
    expect(phone.locator("#state")).to_contain_text("Paid")

    # The pay page notices by itself (it polls) and moves to the result.
    expect(page).to_have_url(re.compile(rf"/payments/pay/{order.order_no}/result/"))
    expect(page.locator("main")).to_contain_text(re.compile(r"payment received|paid", re.I))
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)
    assert Payment.objects.get(order=order).channel == channel

    paid_lesson = course.lessons.get(is_preview=False)
    page.goto(course.get_absolute_url())
    page.get_by_role("link", name=paid_lesson.title).click()
    expect(page.get_by_role("heading", name=paid_lesson.title)).to_be_visible()
    expect(page.locator("main")).to_contain_text(paid_lesson.body)


def test_a_decline_at_the_cashier_says_so_and_the_order_can_still_be_paid(new_context, learner, course):
    page = new_context().new_page()
    order = start_paying(page, learner, course, "sandbox")
    phone = new_context().new_page()
    phone.goto(cashier_link(page).get_attribute("href"))

    pay_at_cashier(phone, "decline")

    expect(phone.locator("#state")).to_contain_text("Declined")
    assert wait_for(lambda: Payment.objects.get(order=order).status == Payment.Status.FAILED)
    # The waiting pay page notices by itself (it reloads and says so); going elsewhere
    # before that reload would race it.
    expect(page.locator("[data-payment-failed]")).to_be_visible()
    page.goto(f"/payments/pay/{order.order_no}/result/")
    expect(page.locator("main")).to_contain_text(re.compile(r"did not go through|failed|declined", re.I))
    page.locator(f'main a[href="/payments/pay/{order.order_no}/"]').first.click()
    expect(page.locator("main input[name=channel]").first).to_be_enabled()  # another way to pay
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT
    assert not Enrollment.objects.filter(learner=learner, course=course).exists()
    paid_lesson = course.lessons.get(is_preview=False)
    page.goto(reverse("courses:lesson", args=[course.slug, paid_lesson.pk]))
    expect(page.locator("main")).not_to_contain_text(paid_lesson.body)
