"""Issue 11, "Paid-but-held plus a second purchase".

Both rules hold: a course with an order paid and held for review (or delivered) cannot
be bought again; and access follows any paid, delivered order of the course, so
refunding one order keeps the access another still pays for."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from courses.models import Enrollment
from orders import selectors as order_selectors
from orders.exceptions import CoursePaymentUnderReview
from orders.models import Order
from orders.services import order_checkout
from payments.gateways.base import RefundState
from payments.models import Refund
from payments.services import payment_start, refund_issue_for_risk
from riskcontrol.models import ReviewDecision, Rule
from riskcontrol.services import review_decide, rule_delete, rule_save
from tests.refunds.conftest import gateway_refunds  # noqa: F401 (fixture)


def buy(learner, course, sandbox) -> Order:
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    assert sandbox.pay(payment).status_code == 204
    order.refresh_from_db()
    return order


def access(learner, course) -> Enrollment | None:
    return Enrollment.objects.filter(learner=learner, course=course, status=Enrollment.Status.ACTIVE).first()


@pytest.fixture
def review_rule(admin_user):
    return rule_save(
        rule=Rule(name="big", kind="amount_above", params={"amount": 100}, action="review"), actor=admin_user
    )


@pytest.fixture
def refund_in_full(gateway_refunds, django_capture_on_commit_callbacks):  # noqa: F811
    """Refund an order in full, through the refund flow to a gateway that says "done"."""
    gateway_refunds.answer = RefundState.SUCCEEDED

    def refund(order):
        with django_capture_on_commit_callbacks(execute=True):
            refund_issue_for_risk(order_id=order.pk, reason="chargeback")
        order.refresh_from_db()
        assert order.status == Order.Status.REFUNDED

    return refund


def test_the_whole_sequence_a_held_order_blocks_a_second_purchase(
    learner, course, sandbox, review_rule, admin_user, client, refund_in_full
):
    order_a = buy(learner, course, sandbox)
    assert order_a.status == Order.Status.PAID and access(learner, course) is None  # held for review

    # The learner tries to buy the course again: API, site, service all refuse, no order B.
    api = APIClient()
    api.force_authenticate(learner)
    again = api.post("/api/v1/orders/", {"course": course.slug}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "course_payment_under_review"
    client.force_login(learner)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.post(reverse("orders:checkout", args=[course.slug]), follow=True)
    assert "access is granted as soon as the payment is reviewed" in page.content.decode()
    with pytest.raises(CoursePaymentUnderReview):
        order_checkout(learner=learner, course_slug=course.slug)
    assert Order.objects.filter(learner=learner).count() == 1

    # Risk approves A: delivered, access tagged with A.
    review_decide(order_id=order_a.pk, actor=admin_user, verdict=ReviewDecision.Verdict.APPROVE, note="ok")
    order_a.refresh_from_db()
    assert order_a.status == Order.Status.FULFILLED
    assert access(learner, course).order_no == order_a.order_no
    assert api.post("/api/v1/orders/", {"course": course.slug}, format="json").json()["error"]["code"] == (
        "course_already_owned"
    )

    # A is refunded in full: access goes (no other order pays for it); buying again is open.
    refund_in_full(order_a)
    assert access(learner, course) is None
    assert api.post("/api/v1/orders/", {"course": course.slug}, format="json").status_code == 201


def test_access_follows_any_delivered_order_of_the_course(
    learner, course, sandbox, review_rule, admin_user, monkeypatch, refund_in_full
):
    """Orders A (held) and B (delivered) both paid, as before the checkout refused B:
    approving A, then refunding A, keeps the access B paid for."""
    order_a = buy(learner, course, sandbox)
    rule_delete(rule=review_rule, actor=admin_user)
    real = order_selectors.course_for_checkout

    def without_the_hold(**kwargs):
        found = real(**kwargs)
        found.held = False
        return found

    monkeypatch.setattr(order_selectors, "course_for_checkout", without_the_hold)
    order_b = buy(learner, course, sandbox)
    assert order_b.status == Order.Status.FULFILLED
    assert access(learner, course).order_no == order_b.order_no

    review_decide(order_id=order_a.pk, actor=admin_user, verdict=ReviewDecision.Verdict.APPROVE, note="ok")
    assert access(learner, course).order_no == order_a.order_no  # re-tagged by approving A

    refund_in_full(order_a)
    assert Refund.objects.get(order=order_a).status == Refund.Status.SUCCEEDED
    enrollment = access(learner, course)
    assert enrollment is not None and enrollment.order_no == order_b.order_no  # B still pays for it

    refund_in_full(order_b)
    assert access(learner, course) is None  # now nothing pays for it
