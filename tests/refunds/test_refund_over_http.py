"""The whole refund flow against the gateway simulator over real HTTP on loopback:
learner request → approval → gateway refund → refund notification → access revoked."""

import pytest

from courses.models import Enrollment
from orders.models import Order
from orders.services import order_checkout
from payments import ledger
from payments.gateways import available_channels
from payments.models import GatewayEvent, GatewayExchange, Refund, RefundStatusChange
from payments.services import payment_start, refund_approve, refund_request
from tests.cashier import cashier_url, press, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# A channel of every gateway that has a simulator with a cashier page tests can press.
SIMULATED = ["sandbox", "wechat_native", "alipay_qr"]


@pytest.mark.parametrize("channel", SIMULATED)
def test_request_approve_refund_notify_revoke(live_simulators, learner, course, support, channel):
    assert channel in available_channels()
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel=channel)
    press(cashier_url(payment), "pay")
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)

    refund = refund_request(learner=learner, order_no=order.order_no, reason="wrong course")
    refund_approve(actor=support, refund_id=refund.pk, note="ok")  # the gateway is called on commit

    assert wait_for(lambda: Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED)
    refund.refresh_from_db()
    assert refund.gateway_refund_id or channel.startswith("alipay")  # Alipay has no refund id
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED
    assert Enrollment.objects.get(learner=learner, course=course).status == Enrollment.Status.REVOKED
    event = GatewayEvent.objects.get(detail__contains=refund.refund_no)  # the refund notification
    assert event.outcome == GatewayEvent.Outcome.PROCESSED
    assert RefundStatusChange.objects.filter(refund=refund, transition="succeed").count() == 1
    assert GatewayExchange.objects.get(operation="refund").status_code == 200
    assert ledger.account_balances()[ledger.gateway_clearing(channel)] == 0


@pytest.mark.parametrize("channel", SIMULATED)
def test_partial_refund_over_http_keeps_access(live_simulators, learner, course, support, channel):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel=channel)
    press(cashier_url(payment), "pay")
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)

    refund = refund_request(learner=learner, order_no=order.order_no, amount=1000, reason="one bad lesson")
    refund_approve(actor=support, refund_id=refund.pk)

    assert wait_for(lambda: Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PARTIALLY_REFUNDED
    assert Enrollment.objects.get(learner=learner, course=course).status == Enrollment.Status.ACTIVE
