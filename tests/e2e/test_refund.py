"""A learner asks for a refund on the site; support approves it in the admin (staff log in
with their second factor), the gateway refunds, and the course is locked again.

The refund is above the approval threshold (lowered for the test to ¥50.00, the course
costs ¥99.00), so four eyes apply: one support member's approval is a first approval,
and the money goes only when a second, different one approves."""

import re

import pytest
from django.urls import reverse

from courses import roles
from courses.models import Enrollment
from orders.models import Order
from payments.models import Refund
from tests.cashier import wait_for

from .helpers import admin_log_in, buy_over_http, expect, log_in


@pytest.fixture
def staff_otp(settings):
    settings.KPAY_ADMIN_OTP_REQUIRED = True
    settings.KPAY_REFUND_APPROVAL_THRESHOLD = 5000


def approve_in_the_admin(page, refund):
    """From the refund queue, open the refund and approve it."""
    page.goto(reverse("admin:payments_refund_changelist") + "?status__exact=requested")
    page.get_by_role("link", name=refund.refund_no).click()
    page.get_by_role("link", name="Approve the refund").click()
    page.get_by_role("button", name="Approve the refund").click()
    expect(page).to_have_url(re.compile(rf"/admin/payments/refund/{refund.pk}/change/"))


@pytest.mark.usefixtures("staff_otp")
def test_a_refund_asked_for_by_the_learner_and_approved_by_two_support_staff(
    new_context, learner, course, staff
):
    order = buy_over_http(learner, course, "sandbox")
    page = new_context().new_page()
    log_in(page, learner, next_url=reverse("orders:my-orders"))

    page.locator(f'main a[href="{reverse("orders:detail", args=[order.order_no])}"]').first.click()
    page.locator(f'main a[href="{reverse("payments:refund-request", args=[order.order_no])}"]').click()
    form = page.locator("main form:has(textarea[name=reason])")
    form.locator("textarea[name=reason]").fill("The course is not what I expected.")
    form.locator("[type=submit]").click()  # no amount: everything

    expect(page).to_have_url(reverse("orders:detail", args=[order.order_no]))
    refund = Refund.objects.get(order=order)
    assert (refund.status, refund.amount) == (Refund.Status.REQUESTED, 9900)
    expect(page.locator("main")).to_contain_text(refund.refund_no)

    ann = new_context().new_page()
    admin_log_in(ann, staff(roles.SUPPORT, "support-ann"))
    approve_in_the_admin(ann, refund)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.REQUESTED and refund.first_approved_by.username == "support-ann"
    expect(ann.get_by_role("link", name="Approve the refund")).to_have_count(0)  # not twice by Ann

    bob = new_context().new_page()
    admin_log_in(bob, staff(roles.SUPPORT, "support-bob"))
    approve_in_the_admin(bob, refund)

    # The gateway (the sandbox simulator) refunds and notifies kpay over HTTP.
    assert wait_for(lambda: Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED)
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED
    assert Enrollment.objects.get(learner=learner, course=course).status == Enrollment.Status.REVOKED
    page.reload()
    expect(page.locator("main")).to_contain_text("Refunded")
    paid_lesson = course.lessons.get(is_preview=False)
    page.goto(reverse("courses:lesson", args=[course.slug, paid_lesson.pk]))
    expect(page.locator("main")).not_to_contain_text(paid_lesson.body)
