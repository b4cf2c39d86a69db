"""Issue 11: 20 parallel "pay" requests on one order and channel converge on one attempt.

Real concurrency on PostgreSQL: threads, each with its own connection, released together."""

import time
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from orders.services import order_checkout
from payments.models import Payment, PaymentStatusChange
from tests.concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gateway_latency(monkeypatch):
    """The sandbox creates its trades locally; a real gateway takes a round trip, the
    window in which parallel requests all see "no attempt yet"."""
    from payments.gateways.sandbox.gateway import SandboxGateway

    create = SandboxGateway.create_payment

    def slow_create(self, request):
        time.sleep(0.05)
        return create(self, request)

    monkeypatch.setattr(SandboxGateway, "create_payment", slow_create)


def assert_one_pending_attempt(order, payment_nos):
    assert len(set(payment_nos)) == 1, payment_nos
    pending = Payment.objects.get(order=order, status=Payment.Status.PENDING)
    assert pending.payment_no == payment_nos[0]
    # Every trade a loser created at the gateway is kept, closed, with why.
    for loser in Payment.objects.filter(order=order).exclude(pk=pending.pk):
        assert loser.status == Payment.Status.CLOSED and loser.closed_at is not None
        assert PaymentStatusChange.objects.get(payment=loser).reason == f"superseded by {pending.payment_no}"


def test_20_parallel_api_pay_requests_get_one_payment(learner, course, sandbox, gateway_latency):
    order = order_checkout(learner=learner, course_slug=course.slug).order

    def pay():
        client = APIClient()
        client.force_authenticate(learner)
        response = client.post(f"/api/v1/orders/{order.order_no}/pay/", {"channel": "sandbox"}, format="json")
        assert response.status_code == 201, response.content
        return response.json()["payment_no"]

    assert_one_pending_attempt(order, race(20, pay))


def test_20_parallel_site_pay_requests_get_one_payment(learner, course, sandbox, gateway_latency):
    order = order_checkout(learner=learner, course_slug=course.slug).order

    def pay():
        client = Client()
        client.force_login(learner)
        response = client.post(reverse("payments:pay", args=[order.order_no]), {"channel": "sandbox"})
        assert response.status_code == 302, response.content[:300]
        return parse_qs(urlparse(response.url).query)["payment"][0]

    assert_one_pending_attempt(order, race(20, pay))


def test_a_race_loser_is_kept_closed_and_if_paid_anyway_captured_not_lost(
    learner, course, sandbox, settings, monkeypatch
):
    """The loser of the race (its request read "no attempt yet" before the winner's
    INSERT): its trade is kept as a closed payment, so money arriving on it anyway is a
    known trade, kept as unapplied (and returned), never an unknown one."""
    from payments import selectors
    from payments.services import payment_start

    settings.KPAY_AUTO_RETURN_UNAPPLIED = False
    order = order_checkout(learner=learner, course_slug=course.slug).order
    winner = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    read_before_the_winner = selectors.order_for_payment

    def stale_read(**kwargs):
        found = read_before_the_winner(**kwargs)
        found.reusable_payment_id = None
        return found

    monkeypatch.setattr(selectors, "order_for_payment", stale_read)
    assert payment_start(learner=learner, order_no=order.order_no, channel="sandbox") == winner

    loser = Payment.objects.exclude(pk=winner.pk).get(order=order)
    assert loser.status == Payment.Status.CLOSED
    assert sandbox.pay(winner).status_code == 204
    assert sandbox.pay(loser).status_code == 204
    loser.refresh_from_db()
    assert loser.status == Payment.Status.UNAPPLIED
