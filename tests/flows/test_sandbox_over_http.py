"""The sandbox gateway and its simulator over real HTTP on loopback (the live server):
the same code paths as with a real gateway, nothing leaves the machine."""

import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from devtools.keys import ensure_dev_keypair
from devtools.simulators.models import SimNotification, SimTrade
from devtools.simulators.tasks import deliver_due_notifications
from orders.models import Order
from orders.services import order_cancel, order_checkout
from payments.exceptions import GatewayUnavailable, InvalidResponse
from payments.gateways import get_gateway
from payments.gateways.base import TradeState
from payments.gateways.signing import load_public_key
from payments.models import GatewayExchange, Payment
from payments.services import payment_close, payment_start, payment_sync, payments_close_stale
from tests.cashier import press, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def lose_notifications(settings):
    """Payments started from now on tell the gateway to notify a closed port."""
    settings.KPAY_PUBLIC_URL = "http://127.0.0.1:9"


def start(learner, course):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    return order, payment_start(learner=learner, order_no=order.order_no, channel="sandbox")


def test_paying_at_the_cashier_notifies_kpay_which_delivers(live_simulators, learner, course):
    order, payment = start(learner, course)

    response = press(payment.action["code_url"], "pay")

    assert response.status_code == 200 and "Paid" in response.text
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)
    notification = SimNotification.objects.get()
    assert notification.delivered_at is not None and notification.last_status == 204
    payment.refresh_from_db()
    assert payment.gateway_txn_id == SimTrade.objects.get().transaction_id


def test_declining_fails_the_payment_and_the_order_stays_payable(live_simulators, learner, course):
    order, payment = start(learner, course)
    press(payment.action["code_url"], "decline")
    assert wait_for(lambda: Payment.objects.get(pk=payment.pk).status == Payment.Status.FAILED)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT


def test_query_finds_a_payment_whose_notification_was_lost(live_simulators, learner, course, settings):
    lose_notifications(settings)
    order, payment = start(learner, course)
    press(payment.action["code_url"], "pay")
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING

    synced = payment_sync(payment=payment)

    assert synced.status == Payment.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED
    exchange = GatewayExchange.objects.filter(operation="query_payment").get()
    assert exchange.status_code == 200 and "[redacted]" not in exchange.url


def test_cancelling_closes_the_trade_at_the_gateway(live_simulators, learner, course):
    order, payment = start(learner, course)
    with httpx.Client() as browser:
        browser.get(payment.action["code_url"])  # the learner scanned the code: the trade exists

    order_cancel(learner=learner, order_no=order.order_no)

    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.CLOSED
    assert SimTrade.objects.get().state == SimTrade.State.CLOSED
    page = httpx.get(payment.action["code_url"])
    assert "closed" in page.text and 'value="pay"' not in page.text


def test_closing_a_trade_that_was_paid_applies_the_money_instead(live_simulators, learner, course, settings):
    lose_notifications(settings)
    order, payment = start(learner, course)
    press(payment.action["code_url"], "pay")

    result = payment_close(payment=payment, reason="test")

    assert result.status == Payment.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED


def test_unknown_outcome_leaves_the_payment_pending(learner, course):
    """The sandbox points at a closed port in tests: the gateway cannot be reached."""
    _order, payment = start(learner, course)
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    with pytest.raises(GatewayUnavailable):
        payment_close(payment=payment, reason="test")
    assert payments_close_stale() == 0
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
    assert GatewayExchange.objects.filter(status_code__isnull=True).exclude(error="").exists()


def test_simulator_rejects_a_wrong_request_signature(live_simulators):
    response = httpx.get(
        f"{live_simulators.url}/simulators/sandbox/api/trades/P1234567",
        headers={
            "Authorization": f'SANDBOX-SHA256-RSA merchant_id="kpay-dev",timestamp="{int(time.time())}",'
            'nonce="n",signature="AAAA"'
        },
    )
    assert response.status_code == 401 and response.json()["code"] == "SIGN_ERROR"


def test_client_rejects_a_response_signed_by_someone_else(live_simulators, learner, course, tmp_path):
    _order, payment = start(learner, course)
    gateway = get_gateway("sandbox")
    _, impostor_public = ensure_dev_keypair(tmp_path, "impostor")
    gateway._gateway_public_key = load_public_key(impostor_public)

    with httpx.Client() as browser:  # the trade must exist: error answers are not signed
        browser.get(payment.action["code_url"])
    with pytest.raises(InvalidResponse):
        gateway.query_payment(payment.payment_no)


def test_query_of_an_unknown_trade_says_not_found(live_simulators):
    assert get_gateway("sandbox").query_payment("P0000000000").state == TradeState.NOT_FOUND


def test_failed_notifications_are_retried_on_the_schedule_then_given_up(
    live_simulators, learner, course, settings
):
    from devtools.simulators.sandbox import RETRY_SCHEDULE

    settings.KPAY_SIMULATOR_TIME_SCALE = 0
    lose_notifications(settings)
    _order, payment = start(learner, course)
    press(payment.action["code_url"], "pay")
    notification = SimNotification.objects.get()
    assert notification.attempts == 1 and notification.next_attempt_at is not None

    for _ in RETRY_SCHEDULE:
        assert deliver_due_notifications() == 1
    assert deliver_due_notifications() == 0

    notification.refresh_from_db()
    assert notification.attempts == 1 + len(RETRY_SCHEDULE)
    assert notification.next_attempt_at is None and notification.delivered_at is None
    assert "ConnectError" in notification.last_error


def test_the_poller_finds_payments_whose_notification_was_lost(live_simulators, learner, course, settings):
    from payments.services import payments_sync_pending

    lose_notifications(settings)
    order, payment = start(learner, course)
    press(payment.action["code_url"], "pay")
    assert payments_sync_pending() == 0  # too young to poll: its notification may still come
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=3))

    assert payments_sync_pending() == 1
    assert Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED


def test_the_pay_pages_status_poll_asks_the_gateway(live_simulators, learner, course, settings, client):
    lose_notifications(settings)
    order, payment = start(learner, course)
    press(payment.action["code_url"], "pay")
    client.force_login(learner)

    status = client.get(f"/payments/pay/{order.order_no}/status/").json()

    assert status["paid"] is True
    assert Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED


@pytest.mark.parametrize("given_up", [Payment.Status.CLOSED, Payment.Status.FAILED])
def test_query_captures_a_payment_we_had_given_up_on_but_the_learner_paid(
    live_simulators, learner, course, settings, given_up
):
    lose_notifications(settings)
    order, payment = start(learner, course)
    press(payment.action["code_url"], "pay")
    # Our close (or a failure report) crossed the learner's payment at the gateway.
    Payment.objects.filter(pk=payment.pk).update(status=given_up)

    synced = payment_sync(payment=payment)

    assert synced.status == Payment.Status.SUCCEEDED
    assert Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED
    assert synced.status_changes.get().from_status == given_up
