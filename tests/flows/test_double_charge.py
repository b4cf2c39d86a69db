"""Issue 11, "A learner can be charged twice": open WeChat Pay and Alipay for one order, pay
with WeChat. The Alipay attempt is closed at Alipay after commit (and by the close sweep
if that fails); money that still arrives on it is returned automatically.

Over real HTTP on loopback, against the WeChat Pay and Alipay simulators."""

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.tasks import task_send
from devtools.simulators.alipay.models import AlipayTrade
from orders.models import Order
from orders.services import order_checkout
from payments import ledger
from payments import services as payment_services
from payments.models import Payment, Refund
from payments.services import payment_start
from tests.cashier import press, wait_for
from tests.gateways.test_alipay_contract import alipay_configured  # noqa: F401 (autouse: Alipay configured)
from tests.gateways.test_wechatpay_contract import _wechatpay_configured  # noqa: F401 (autouse)
from tests.ledger_checks import assert_ledger_consistent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_cashiers_open(live_simulators, learner, course):
    """``(order, wechat, alipay)``: one order with a WeChat Pay and an Alipay attempt open."""
    order = order_checkout(learner=learner, course_slug=course.slug).order
    wechat = payment_start(learner=learner, order_no=order.order_no, channel="wechat_native")
    alipay = payment_start(learner=learner, order_no=order.order_no, channel="alipay_qr")
    assert wechat.gateway == "wechatpay" and alipay.gateway == "alipay"
    return order, wechat, alipay


def scan(payment):
    """The learner opens the Alipay cashier (scans the code): the trade now exists at
    Alipay, waiting for the buyer. (A code never scanned does not exist there yet, so
    closing it answers "no such trade": if it is paid later, see the return below.)"""
    assert httpx.get(payment.action["code_url"], timeout=10).status_code == 200
    assert AlipayTrade.objects.get(out_trade_no=payment.payment_no).status == "WAIT_BUYER_PAY"


def pay_with_wechat(order, wechat):
    assert press(wechat.action["redirect_url"], "pay").status_code == 200
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)


def status_of(payment):
    return Payment.objects.get(pk=payment.pk).status


def test_paying_one_attempt_closes_the_other_at_its_gateway(two_cashiers_open):
    order, wechat, alipay = two_cashiers_open
    scan(alipay)

    pay_with_wechat(order, wechat)

    assert wait_for(lambda: status_of(alipay) == Payment.Status.CLOSED)
    assert AlipayTrade.objects.get(out_trade_no=alipay.payment_no).status == "TRADE_CLOSED"
    assert status_of(wechat) == Payment.Status.SUCCEEDED
    assert_ledger_consistent()


def test_an_attempt_the_gateway_did_not_close_at_once_is_closed_by_the_sweep(two_cashiers_open, monkeypatch):
    order, wechat, alipay = two_cashiers_open
    scan(alipay)
    with monkeypatch.context() as patch:  # Alipay unreachable when the order was paid
        patch.setattr(payment_services, "order_payments_close", lambda **kwargs: None)
        pay_with_wechat(order, wechat)
    assert status_of(alipay) == Payment.Status.PENDING

    task_send("payments.tasks.close_stale_payments")  # beat, every 5 minutes

    assert status_of(alipay) == Payment.Status.CLOSED
    assert AlipayTrade.objects.get(out_trade_no=alipay.payment_no).status == "TRADE_CLOSED"


def test_money_that_still_arrives_is_returned_and_the_learner_is_told(
    two_cashiers_open, monkeypatch, learner
):
    order, wechat, alipay = two_cashiers_open
    with monkeypatch.context() as patch:  # the close had not reached Alipay when its cashier was paid
        patch.setattr(payment_services, "order_payments_close", lambda **kwargs: None)
        pay_with_wechat(order, wechat)
        assert press(alipay.action["code_url"], "pay").status_code == 200
        assert wait_for(lambda: status_of(alipay) == Payment.Status.UNAPPLIED)

    returned = Refund.objects.get(payment=alipay)
    assert returned.origin == Refund.Origin.UNAPPLIED and returned.amount == alipay.amount
    assert returned.requested_by is None and returned.approved_by is None  # the system returned it
    assert wait_for(lambda: Refund.objects.get(pk=returned.pk).status == Refund.Status.SUCCEEDED)

    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED and order.refunded_amount == 0  # one charge kept
    assert status_of(wechat) == Payment.Status.SUCCEEDED
    assert Payment.objects.get(pk=alipay.pk).refunded_amount == alipay.amount
    assert ledger.account_balances().get(ledger.UNAPPLIED_RECEIPTS, 0) == 0
    assert_ledger_consistent()

    page = Client()
    page.force_login(learner)
    page.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    html = page.get(reverse("orders:detail", args=[order.order_no])).content.decode()
    assert "Duplicate payment" in html and returned.refund_no in html and "returned it" in html
    api = APIClient()
    api.force_authenticate(learner)
    detail = api.get(f"/api/v1/orders/{order.order_no}/").json()
    assert detail["returned_payments"] == [
        {"refund_no": returned.refund_no, "amount": alipay.amount, "currency": "CNY", "status": "returned"}
    ]
    listing = api.get("/api/v1/orders/").json()["results"]
    assert listing[0]["returned_payments"][0]["status"] == "returned"


def test_with_automatic_returns_off_the_money_waits_for_staff(two_cashiers_open, monkeypatch, settings):
    settings.KPAY_AUTO_RETURN_UNAPPLIED = False
    order, wechat, alipay = two_cashiers_open
    with monkeypatch.context() as patch:
        patch.setattr(payment_services, "order_payments_close", lambda **kwargs: None)
        pay_with_wechat(order, wechat)
        assert press(alipay.action["code_url"], "pay").status_code == 200
        assert wait_for(lambda: status_of(alipay) == Payment.Status.UNAPPLIED)
    assert not Refund.objects.exists()
    assert "refund it" in Payment.objects.get(pk=alipay.pk).flag
