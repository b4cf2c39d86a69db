"""Learners ask for refunds on the site and through the API, and see where they stand."""

import pytest
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from orders.models import Order
from orders.services import order_checkout
from payments.models import Refund
from payments.services import refund_deny
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(client, learner):
    client.force_login(learner)
    return client


def test_the_order_page_offers_a_refund_inside_the_window_only(site, paid, settings):
    order, _ = paid
    detail = reverse("orders:detail", args=[order.order_no])
    request_url = reverse("payments:refund-request", args=[order.order_no])
    assert request_url in site.get(detail).text

    Order.objects.filter(pk=order.pk).update(paid_at=timezone.now() - settings.KPAY_REFUND_WINDOW)
    assert request_url not in site.get(detail).text
    response = site.post(request_url, {"reason": "late"}, follow=True)
    assert "The time for asking for a refund" in response.text
    assert not Refund.objects.exists()


def test_a_learner_requests_a_refund_and_sees_its_status(site, learner, paid, support):
    order, _ = paid
    request_url = reverse("payments:refund-request", args=[order.order_no])
    assert site.get(request_url).status_code == 200

    response = site.post(request_url, {"amount": "20.50", "reason": "audio is broken"}, follow=True)

    refund = Refund.objects.get()
    assert refund.amount == 2050 and refund.requested_by == learner and refund.reason == "audio is broken"
    assert response.redirect_chain[-1][0] == reverse("orders:detail", args=[order.order_no])
    assert refund.refund_no in response.text and "Requested" in response.text

    refund_deny(actor=support, refund_id=refund.pk, note="audio works for us")
    page = site.get(reverse("orders:detail", args=[order.order_no]))
    assert "Denied" in page.text and "audio works for us" in page.text


@pytest.mark.parametrize("amount", ["0", "-1", "abc", "99.01", "1.001"])
def test_bad_amounts_on_the_site_are_refused_with_a_message(site, paid, amount):
    order, _ = paid
    response = site.post(
        reverse("payments:refund-request", args=[order.order_no]), {"amount": amount, "reason": "r"}
    )
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]]
    assert not Refund.objects.exists()


def test_someone_elses_order_has_no_refund_page(client, paid):
    order, _ = paid
    client.force_login(UserFactory())
    url = reverse("payments:refund-request", args=[order.order_no])
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "mine now"}).status_code == 404
    assert not Refund.objects.exists()


# -- the API ------------------------------------------------------------------------------
@pytest.fixture
def api(api_client, learner):
    _, token = AuthToken.objects.create(user=learner)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api_client


def test_api_request_and_list(api, paid):
    order, _ = paid
    url = reverse("api:order-refunds", args=[order.order_no])
    response = api.post(url, {"reason": "changed my mind"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "requested" and body["amount"] == 9900 and body["order_no"] == order.order_no
    listing = api.get(url).json()
    assert [r["refund_no"] for r in listing] == [body["refund_no"]]

    again = api.post(url, {"reason": "again"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "refund_exceeds_paid"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"reason": "r", "amount": 0}, 400, "invalid_refund_amount"),
        ({"reason": "r", "amount": -5}, 400, "invalid_refund_amount"),
        ({"reason": "r", "amount": 9901}, 409, "refund_exceeds_paid"),
        ({"amount": 100}, 400, "invalid"),
        ({"reason": "r", "amount": "lots"}, 400, "invalid"),
    ],
)
def test_api_bad_input(api, paid, body, status, code):
    order, _ = paid
    response = api.post(reverse("api:order-refunds", args=[order.order_no]), body, format="json")
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert not Refund.objects.exists()


def test_api_unpaid_and_someone_elses_orders(api, course, learner, buy):
    unpaid = order_checkout(learner=learner, course_slug=course.slug).order
    response = api.post(reverse("api:order-refunds", args=[unpaid.order_no]), {"reason": "r"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "order_not_refundable"

    from tests.factories import CourseFactory

    theirs, _ = buy(UserFactory(), CourseFactory())
    url = reverse("api:order-refunds", args=[theirs.order_no])
    assert api.post(url, {"reason": "r"}, format="json").status_code == 404
    assert api.get(url).status_code == 404
    assert not Refund.objects.exists()
