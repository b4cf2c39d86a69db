"""Refunds in the back office: the queue, approve/deny/retry pages, "Refund this order"."""

import pytest
from django.urls import reverse

from courses import roles
from orders.models import Order
from payments.gateways.base import RefundState
from payments.models import Refund
from payments.services import refund_request
from tests.factories import MerchantStaffFactory

pytestmark = pytest.mark.django_db


def issue_url(order):
    return reverse("admin:payments_refund_issue", args=[order.pk])


def decide_url(refund, action):
    return reverse("admin:payments_refund_decide", args=[refund.pk, action])


def order_page(order):
    return reverse("admin:orders_order_change", args=[order.pk])


@pytest.fixture
def as_support(client, support):
    client.force_login(support)
    return client


def test_support_refunds_an_order_in_full_from_its_page(
    as_support, paid, gateway_refunds, django_capture_on_commit_callbacks
):
    order, _payment = paid
    gateway_refunds.answer = RefundState.SUCCEEDED
    page = as_support.get(order_page(order))
    assert page.status_code == 200 and issue_url(order) in page.text
    assert as_support.get(issue_url(order)).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = as_support.post(issue_url(order), {"amount": "", "reason": "charged twice"})

    refund = Refund.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "admin:payments_refund_change", args=[refund.pk]
    )
    order.refresh_from_db()
    refund.refresh_from_db()
    assert (
        refund.amount == 9900
        and refund.status == Refund.Status.SUCCEEDED
        and refund.reason == "charged twice"
    )
    assert order.status == Order.Status.REFUNDED
    assert issue_url(order) not in as_support.get(order_page(order)).text  # nothing left to refund
    assert refund.refund_no in as_support.get(order_page(order)).text  # the refunds inline


def test_support_refunds_part_of_an_order(
    as_support, paid, gateway_refunds, django_capture_on_commit_callbacks
):
    order, _ = paid
    gateway_refunds.answer = RefundState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        as_support.post(issue_url(order), {"amount": "12.34", "reason": "one lesson missing"})
    order.refresh_from_db()
    assert Refund.objects.get().amount == 1234
    assert order.status == Order.Status.PARTIALLY_REFUNDED and order.refunded_amount == 1234


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"amount": "99.01", "reason": "r"}, "more than can be refunded"),
        ({"amount": "0", "reason": "r"}, "greater than or equal to"),
        ({"amount": "-5", "reason": "r"}, "greater than or equal to"),
        ({"amount": "1.234", "reason": "r"}, "decimal place"),
        ({"amount": "", "reason": ""}, "This field is required"),
    ],
)
def test_bad_admin_refunds_show_the_error_and_change_nothing(as_support, paid, data, error):
    order, _ = paid
    response = as_support.post(issue_url(order), data)
    assert response.status_code == 200 and error in response.text
    assert not Refund.objects.exists()


def test_the_queue_approve_and_deny_pages(
    as_support, learner, paid, buy, course, gateway_refunds, django_capture_on_commit_callbacks
):
    order, _ = paid
    first = refund_request(learner=learner, order_no=order.order_no, amount=1000, reason="first")
    second = refund_request(learner=learner, order_no=order.order_no, amount=2000, reason="second")

    queue = as_support.get(reverse("admin:payments_refund_changelist"), {"status__exact": "requested"})
    assert {r.pk for r in queue.context["cl"].result_list} == {first.pk, second.pk}
    page = as_support.get(reverse("admin:payments_refund_change", args=[first.pk]))
    assert decide_url(first, "approve") in page.text and decide_url(first, "deny") in page.text

    with django_capture_on_commit_callbacks(execute=True):
        assert as_support.post(decide_url(first, "approve"), {"note": "fine"}).status_code == 302
    assert as_support.post(decide_url(second, "deny"), {"note": ""}).status_code == 200  # a note is required
    assert as_support.post(decide_url(second, "deny"), {"note": "no reason given"}).status_code == 302

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Refund.Status.PROCESSING and first.approved_by.username == "support-ann"
    assert second.status == Refund.Status.DENIED and second.decision_note == "no reason given"
    # Deciding again is refused with a message, not a crash.
    again = as_support.post(decide_url(second, "approve"), {"note": ""})
    assert again.status_code == 200 and "cannot take this step" in again.text


def test_four_eyes_through_the_admin(
    client, support, support2, paid, settings, gateway_refunds, django_capture_on_commit_callbacks
):
    settings.KPAY_REFUND_APPROVAL_THRESHOLD = 5000
    order, _ = paid
    client.force_login(support)
    client.post(issue_url(order), {"amount": "", "reason": "big"})
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.REQUESTED and refund.first_approved_by == support

    response = client.post(decide_url(refund, "approve"), {"note": ""})
    assert response.status_code == 200 and "different staff member" in response.text
    # The first approver is not offered the second approval; anyone else is.
    refund_page = reverse("admin:payments_refund_change", args=[refund.pk])
    assert decide_url(refund, "approve") not in client.get(refund_page).text
    assert decide_url(refund, "deny") in client.get(refund_page).text
    client.force_login(support2)
    assert decide_url(refund, "approve") in client.get(refund_page).text
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(decide_url(refund, "approve"), {"note": "ok"}).status_code == 302
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING and refund.approved_by == support2


def test_a_failed_refund_is_retried_from_the_admin(
    as_support, paid, gateway_refunds, django_capture_on_commit_callbacks
):
    from payments.exceptions import GatewayRejected

    order, _ = paid
    gateway_refunds.answer = GatewayRejected("frozen account", gateway_code="FROZEN")
    with django_capture_on_commit_callbacks(execute=True):
        as_support.post(issue_url(order), {"amount": "10", "reason": "r"})
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.FAILED
    page = as_support.get(reverse("admin:payments_refund_change", args=[refund.pk]))
    assert "FROZEN: frozen account" in page.text and decide_url(refund, "retry") in page.text

    gateway_refunds.answer = RefundState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        assert as_support.post(decide_url(refund, "retry"), {"note": "unfrozen"}).status_code == 302
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED


@pytest.mark.parametrize("who", ["merchant", "finance", "learner"])
def test_merchants_finance_and_learners_cannot_refund_in_the_admin(client, who, staff, learner, course, paid):
    order, _ = paid
    refund = refund_request(learner=learner, order_no=order.order_no, amount=100, reason="r")
    user = {
        "merchant": lambda: MerchantStaffFactory(merchant=course.merchant),
        "finance": lambda: staff(roles.FINANCE),
        "learner": lambda: learner,
    }[who]()
    if who == "merchant":
        from django.contrib.auth.models import Group

        user.groups.add(Group.objects.get(name=roles.MERCHANT))
    client.force_login(user)

    for url in (issue_url(order), decide_url(refund, "approve"), decide_url(refund, "deny")):
        response = client.post(url, {"amount": "", "reason": "r", "note": "n"})
        assert response.status_code in (302, 403), url
        if response.status_code == 302:
            assert "/login/" in response.url  # not staff: the admin's login page
    if who != "learner":
        page = client.get(order_page(order))
        assert page.status_code == 200 and issue_url(order) not in page.text
        listing = client.get(reverse("admin:payments_refund_changelist"))
        assert listing.status_code == 200 and refund.refund_no in listing.text  # they may look
    refund.refresh_from_db()
    assert refund.status == Refund.Status.REQUESTED and Refund.objects.count() == 1


def test_other_merchants_refunds_are_invisible_to_a_merchant(client, staff, buy, learner, course, paid):
    from django.contrib.auth.models import Group

    from tests.factories import CourseFactory, UserFactory

    order, _ = paid
    theirs, _ = buy(UserFactory(), CourseFactory())
    ours = refund_request(learner=learner, order_no=order.order_no, amount=100, reason="r")
    other = refund_request(learner=theirs.learner, order_no=theirs.order_no, amount=100, reason="r")
    user = MerchantStaffFactory(merchant=course.merchant)
    user.groups.add(Group.objects.get(name=roles.MERCHANT))
    client.force_login(user)
    listing = client.get(reverse("admin:payments_refund_changelist"))
    assert ours.refund_no in listing.text and other.refund_no not in listing.text
    assert client.get(reverse("admin:payments_refund_change", args=[other.pk])).status_code in (302, 403, 404)


def test_only_support_holds_the_refund_permissions():
    from django.contrib.auth.models import Group

    def codenames(role):
        return set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))

    assert {"view_refund", "issue_refund", "approve_refund", "view_refundstatuschange"} <= codenames(
        roles.SUPPORT
    )
    for role in (roles.FINANCE, roles.MERCHANT):
        assert "view_refund" in codenames(role)
        assert not {"issue_refund", "approve_refund", "change_refund", "add_refund"} & codenames(role)


def test_the_refund_queue_is_constant_in_queries(
    as_support, learner, buy, course, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import UserFactory

    def request_one(user):
        order, _ = buy(user, course)
        refund_request(learner=user, order_no=order.order_no, amount=100, reason="r")

    request_one(learner)
    url = reverse("admin:payments_refund_changelist")
    with CaptureQueriesContext(connection) as captured:
        assert as_support.get(url).status_code == 200
    one = len(captured.captured_queries)
    assert one > 0
    for _ in range(4):
        request_one(UserFactory())
    with django_assert_max_num_queries(one):
        response = as_support.get(url)
    assert len(response.context["cl"].result_list) == 5
