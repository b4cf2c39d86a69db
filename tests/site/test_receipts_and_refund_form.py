"""The receipt (电子收据) of a paid order, the price breakdown on the order and pay pages,
the refund request form, and cancelling with a confirmation."""

import pytest
from django.urls import reverse

from courses import roles
from orders.models import Order
from orders.services import order_checkout
from payments.gateways.base import RefundState, RefundStatus
from payments.gateways.sandbox import SandboxGateway
from payments.models import Payment, Refund
from payments.services import payment_start, refund_issue, refund_request
from promotions.points import points_grant
from tests.factories import CouponFactory, CourseFactory, UserFactory
from tests.site.conftest import messages_of


@pytest.fixture
def refunds_succeed(monkeypatch):
    """The sandbox gateway (at a closed port in tests) answers refunds with success."""
    monkeypatch.setattr(
        SandboxGateway,
        "refund",
        lambda self, request: RefundStatus(
            refund_no=request.refund_no,
            state=RefundState.SUCCEEDED,
            gateway_refund_id=f"RF{request.refund_no}",
            amount=request.amount,
        ),
    )


@pytest.fixture
def bought(learner, course, sandbox, staff):
    """``course`` (¥99.00) bought with coupon SAVE10 (¥10 off) and 500 points (¥5): ¥84 paid."""
    coupon = CouponFactory(code="SAVE10", name="New learner ¥10", amount_off=1000)
    points_grant(actor=staff(roles.SUPPORT), learner_id=learner.pk, points=500, reason="welcome")
    order = order_checkout(learner=learner, course_slug=course.slug, coupon=coupon.code, points=500).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    assert sandbox.pay(payment).status_code == 204
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.subtotal, order.discount, order.points_discount, order.total) == (9900, 1000, 500, 8400)
    return order, payment


def test_the_receipt_shows_the_breakdown_the_payment_and_each_refund(
    site, learner, bought, staff, refunds_succeed, django_capture_on_commit_callbacks
):
    order, payment = bought
    support = staff(roles.SUPPORT)
    with django_capture_on_commit_callbacks(execute=True):  # the refunds go to the gateway after commit
        refund_issue(actor=support, order_id=order.pk, amount=1500, reason="one lesson missing")
        refund_issue(actor=support, order_id=order.pk, amount=400, reason="and another")
    pending = refund_request(learner=learner, order_no=order.order_no, amount=100, reason="a little more")
    done = list(Refund.objects.filter(status=Refund.Status.SUCCEEDED).order_by("pk"))
    assert [refund.amount for refund in done] == [1500, 400]

    receipt_url = reverse("payments:receipt", args=[order.order_no])
    assert receipt_url in site.get(reverse("orders:detail", args=[order.order_no])).content.decode()
    page = site.get(receipt_url)
    assert page.status_code == 200
    text = page.content.decode()
    for shown in (
        order.merchant.name,
        order.order_no,
        learner.email,
        order.line_items[0].title,
        "List price",
        "¥99.00",
        "Coupon discount (New learner ¥10)",
        "-¥10.00",
        "Points used (500 points)",
        "-¥5.00",
        "Total paid",
        "¥84.00",
        "Sandbox Pay (simulated gateway)",
        payment.payment_no,
        payment.gateway_txn_id,
        done[0].refund_no,
        "-¥15.00",
        done[1].refund_no,
        "-¥4.00",
        "Refunded in all",
        "-¥19.00",
        "Paid, less refunds",
        "¥65.00",
        "It is not a tax invoice (发票)",
    ):
        assert shown in text, shown
    # A refund not completed yet is said to be under way, not counted.
    assert f"Refund {pending.refund_no} of ¥1.00" in text and "not completed yet" in text
    assert page.context["receipt"].remains == 6500
    # Printing: a print style sheet, and a button that appears with JavaScript.
    assert "data-print hidden" in text and "js/print.js" in text


def test_a_receipt_is_the_learners_own_and_only_for_paid_orders(site, learner, bought):
    order, _payment = bought
    url = reverse("payments:receipt", args=[order.order_no])
    assert site.get(url).status_code == 200

    other = site.__class__()
    other.force_login(UserFactory())
    assert other.get(url).status_code == 404

    unpaid = order_checkout(learner=learner, course_slug=CourseFactory().slug).order
    assert site.get(reverse("payments:receipt", args=[unpaid.order_no])).status_code == 404
    assert site.get(reverse("payments:receipt", args=["K-no-such"])).status_code == 404


def test_order_and_pay_pages_show_the_price_breakdown(site, learner, course, staff):
    coupon = CouponFactory(code="SAVE10", name="New learner ¥10", amount_off=1000)
    points_grant(actor=staff(roles.SUPPORT), learner_id=learner.pk, points=500, reason="welcome")
    order = order_checkout(learner=learner, course_slug=course.slug, coupon=coupon.code, points=500).order
    for url in (
        reverse("payments:pay", args=[order.order_no]),
        reverse("orders:detail", args=[order.order_no]),
    ):
        text = site.get(url).content.decode()
        for shown in (
            "Subtotal",
            "¥99.00",
            "Coupon: New learner ¥10",
            "-¥10.00",
            "500 points",
            "-¥5.00",
            "¥84.00",
        ):
            assert shown in text, (url, shown)
    assert "To pay" in site.get(reverse("payments:pay", args=[order.order_no])).content.decode()


# -- the refund request form ----------------------------------------------------------------
def test_the_refund_form_says_how_much_and_keeps_input_after_an_error(site, bought):
    order, _payment = bought
    url = reverse("payments:refund-request", args=[order.order_no])
    page = site.get(url).content.decode()
    assert "Up to ¥84.00. Leave empty to ask for all of it." in page
    assert 'placeholder="84.00"' in page and 'class="stack"' in page

    refused = site.post(url, {"amount": "90.00", "reason": "The audio of lesson 2 is broken"})
    assert refused.status_code == 200
    assert [message for message in messages_of(refused) if "more than" in message]
    text = refused.content.decode()
    assert 'value="90.00"' in text and ">The audio of lesson 2 is broken</textarea>" in text
    assert 'aria-invalid="true"' in text and refused.context["error_field"] == "amount"

    no_reason = site.post(url, {"amount": "10", "reason": "  "})
    assert no_reason.context["error_field"] == "reason" and 'value="10"' in no_reason.content.decode()
    assert not Refund.objects.exists()

    asked = site.post(url, {"amount": "20", "reason": "The audio of lesson 2 is broken"}, follow=True)
    assert asked.redirect_chain[-1][0] == reverse("orders:detail", args=[order.order_no])
    assert Refund.objects.get().amount == 2000
    # What is left to ask for now leaves out the refund under way.
    assert "Up to ¥64.00." in site.get(url).content.decode()


def test_no_refund_is_offered_again_while_a_full_refund_is_pending(site, learner, bought):
    order, payment = bought
    refund_request(learner=learner, order_no=order.order_no, reason="changed my mind")  # everything
    payment.refresh_from_db()
    assert payment.refundable_amount == 0

    detail = site.get(reverse("orders:detail", args=[order.order_no])).content.decode()
    url = reverse("payments:refund-request", args=[order.order_no])
    assert url not in detail and "Request a refund" not in detail

    page = site.get(url)
    text = page.content.decode()
    assert "already being processed" in text and 'name="reason"' not in text  # no form
    assert "Being refunded" in text and "¥84.00" in text
    again = site.post(url, {"reason": "again"})
    assert again.status_code == 200 and Refund.objects.count() == 1


# -- cancelling -----------------------------------------------------------------------------
def test_cancelling_asks_first_and_works_without_javascript(site, learner, course, place_order):
    order = place_order(course)
    cancel_url = reverse("orders:cancel", args=[order.order_no])
    assert f'href="{cancel_url}"' in site.get(reverse("payments:pay", args=[order.order_no])).content.decode()

    question = site.get(cancel_url)
    text = question.content.decode()
    assert question.status_code == 200 and "Cancel the order?" in text
    assert 'name="confirm" value="yes"' in text and "No, keep it" in text
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT

    # A POST without the confirmation (an old one-click form) only asks again.
    unconfirmed = site.post(cancel_url)
    assert unconfirmed.status_code == 200 and "Cancel the order?" in unconfirmed.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT

    done = site.post(cancel_url, {"confirm": "yes"}, follow=True)
    assert messages_of(done) == [f"Order {order.order_no} was cancelled."]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    # Nothing left to confirm: the question is not asked about a closed order.
    closed = site.get(cancel_url, follow=True)
    assert closed.redirect_chain == [(reverse("orders:detail", args=[order.order_no]), 302)]


def test_someone_elses_order_cannot_be_cancelled(client, learner, course):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    client.force_login(UserFactory())
    url = reverse("orders:cancel", args=[order.order_no])
    assert client.get(url).status_code == 404
    assert client.post(url, {"confirm": "yes"}).status_code == 404
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert not Payment.objects.exists()
