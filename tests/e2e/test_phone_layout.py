"""On a phone (390 px wide) the learner's pages fit the screen: nothing scrolls sideways,
no element is wider than the viewport or sticks out of it (issue 14: an order with a
refund scrolled sideways, order numbers overflowed their cards, the pay page's order
table was cut off, the refund form's amounts were clipped)."""

import re

from django.urls import reverse

from courses import roles
from payments.models import Refund
from payments.services import payment_start, refund_approve, refund_request
from tests.cashier import wait_for
from tests.factories import CouponFactory, CourseFactory, LessonFactory

from .helpers import assert_fits_the_screen, buy_over_http, expect, log_in

# A long title, in Chinese and English, as merchants write them.
TITLE = "Python 数据分析实战：从入门到精通（2026 全新升级版）Data Analysis with Pandas, NumPy and Matplotlib"


def long_course():
    course = CourseFactory(title=TITLE, price=129900)  # ¥1,299.00: wide amounts
    LessonFactory(course=course, title="Welcome", is_preview=True)
    LessonFactory(course=course, title="The paid part")
    return course


def test_on_a_phone_the_pay_page_fits(new_context, learner):
    from orders.services import order_checkout

    course = long_course()
    coupon = CouponFactory(code="SPRING2026", amount_off=10000, courses=[course])
    order = order_checkout(learner=learner, course_slug=course.slug, coupon=coupon.code).order
    page = new_context(phone=True).new_page()
    log_in(page, learner, next_url=reverse("payments:pay", args=[order.order_no]))

    expect(page.locator("main input[name=channel]").first).to_be_visible()  # choosing how to pay
    expect(page.locator("main table")).to_contain_text(TITLE)
    assert_fits_the_screen(page)

    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    page.goto(reverse("payments:pay", args=[order.order_no]) + f"?payment={payment.payment_no}")
    expect(page.locator('main a[href*="/simulators/"]').first).to_be_visible()  # the payment under way
    assert_fits_the_screen(page)


def test_on_a_phone_an_order_with_refunds_fits(new_context, learner, staff):
    course = long_course()
    order = buy_over_http(learner, course)
    support = staff(roles.SUPPORT, "support-ann")
    done = refund_request(learner=learner, order_no=order.order_no, amount=12345, reason="one lesson missing")
    refund_approve(actor=support, refund_id=done.pk, note="ok")
    assert wait_for(lambda: Refund.objects.get(pk=done.pk).status == Refund.Status.SUCCEEDED)
    waiting = refund_request(learner=learner, order_no=order.order_no, amount=20000, reason="sound is bad")

    page = new_context(phone=True).new_page()
    log_in(page, learner, next_url=reverse("orders:my-orders"))
    expect(page.locator("main")).to_contain_text(order.order_no)
    assert_fits_the_screen(page)

    page.goto(reverse("orders:detail", args=[order.order_no]))
    expect(page.locator("main")).to_contain_text(waiting.refund_no)
    expect(page.locator("main")).to_contain_text(done.refund_no)
    assert_fits_the_screen(page)

    page.goto(reverse("payments:refund-request", args=[order.order_no]))
    expect(page.locator("main input[name=amount]")).to_be_visible()
    assert_fits_the_screen(page)


def test_on_a_phone_the_promoter_page_fits(new_context, learner):
    """Its links (long URLs in a box to copy), QR codes, the withdrawal form and the
    withdrawals' table fit the screen."""
    from django.utils import timezone

    from promoters.models import Programme, Promoter
    from promoters.services import link_for

    course = long_course()
    programme = Programme.objects.create(merchant=course.merchant, rate_bp=1000)
    programme.courses.add(course)
    now = timezone.now()
    promoter = Promoter.objects.create(
        programme=programme,
        merchant=course.merchant,
        user=learner,
        status=Promoter.Status.APPROVED,
        applied_at=now,
        decided_at=now,
    )
    link_for(promoter=promoter, course_id=course.pk)
    page = new_context(phone=True).new_page()
    log_in(page, learner, next_url=reverse("promoters:page"))

    expect(page.locator("main .promoter-links input")).to_have_value(re.compile(r"/r/"))
    expect(page.locator("main form.withdraw")).to_be_visible()
    assert_fits_the_screen(page)
