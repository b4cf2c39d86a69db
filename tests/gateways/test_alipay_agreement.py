"""Alipay 周期扣款 (withholding agreements) against the simulator, over real HTTP on loopback:
signing on the simulated payer's page, the dut_user_sign / dut_user_unsign notifications
as delivered, query, charges (success, refusals with their sub-codes, one charge per
trade number and per period), the charge's trade notification through kpay's withholding
webhook, unsigning from either side, and the exchanges kept without secrets."""

import secrets
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from devtools.keys import ALIPAY_APP, ensure_dev_keypair
from devtools.simulators.alipay.models import AlipayAgreement, AlipayTrade
from devtools.simulators.models import SimNotification
from orders.models import Order
from orders.numbers import new_public_number
from orders.services import order_checkout
from payments.exceptions import GatewayRejected
from payments.gateways import get_gateway
from payments.gateways.alipay.protocol import SHANGHAI
from payments.gateways.base import BillLineKind, TradeState
from payments.gateways.withholding import (
    AgreementRequest,
    AgreementState,
    ChargeRequest,
    PeriodUnit,
    supports_withholding,
)
from payments.models import GatewayEvent, GatewayExchange, Payment
from tests.cashier import press, wait_for
from tests.factories import CourseFactory
from tests.gateways.test_alipay_contract import (  # noqa: F401 (alipay_configured is an autouse fixture)
    APP_ID,
    SELLER_ID,
    alipay_configured,
)

pytestmark = [pytest.mark.timeout(90), pytest.mark.django_db(transaction=True)]


# -- a stand-in for kpay's agreement notification URL --------------------------------------
class NotifyInbox:
    """A loopback HTTP endpoint that keeps what is posted to it and answers ``success``,
    as kpay's agreement webhook does (that webhook belongs to the memberships app)."""

    def __init__(self):
        self.received: list[tuple[dict, bytes]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                inbox.received.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/agreements/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of_type(self, notify_type: str) -> list[tuple[dict, bytes]]:
        return [(h, b) for h, b in self.received if f"notify_type={notify_type}".encode() in b]

    def wait(self, notify_type: str, count: int = 1) -> tuple[dict, bytes]:
        assert wait_for(lambda: len(self.of_type(notify_type)) >= count), f"no {notify_type} arrived"
        return self.of_type(notify_type)[count - 1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def inbox():
    inbox = NotifyInbox()
    yield inbox
    inbox.close()


# -- helpers -------------------------------------------------------------------------------
def beijing_today():
    return timezone.localdate(timezone=SHANGHAI)


def agreement_request(inbox, **overrides) -> AgreementRequest:
    fields = {
        "agreement_no": f"KA{secrets.token_hex(8).upper()}",
        "channel": "alipay_agreement",
        "description": "Monthly membership of Demo Studio",
        "amount": 9900,
        "currency": "CNY",
        "period_unit": PeriodUnit.DAY,
        "period": 30,
        "first_charge_on": beijing_today(),
        "notify_url": inbox.url,
        "return_url": "http://127.0.0.1:9/memberships/return/",
    }
    fields.update(overrides)
    return AgreementRequest(**fields)


def signing_page(live_url: str, request: AgreementRequest) -> str:
    """Open what kpay gives the learner (Alipay's gateway with the signed page.sign
    request); Alipay answers with its signing page."""
    action = get_gateway("alipay").agreement_sign(request)
    assert action.kind == "redirect" and action.redirect_url.startswith(live_url)
    landing = httpx.get(action.redirect_url, timeout=10)
    assert landing.status_code == 302, landing.text[:300]
    return urljoin(live_url, landing.headers["Location"])


def signed(live_url: str, inbox: NotifyInbox, **overrides):
    """Sign an agreement as the payer; returns (request, page URL, parsed dut_user_sign)."""
    request = agreement_request(inbox, **overrides)
    page = signing_page(live_url, request)
    answer = press(page, "sign")
    assert answer.status_code == 302 and answer.headers["Location"] == request.return_url
    headers, body = inbox.wait("dut_user_sign")
    return request, page, get_gateway("alipay").parse_agreement_notification(headers, body)


def payment_for_charge(learner, course=None) -> Payment:
    """A kpay payment (an order's attempt) that a renewal charge pays (of a new ¥99.00
    course unless one is given)."""
    course = course or CourseFactory(price=9900)
    order = order_checkout(learner=learner, course_slug=course.slug).order
    return Payment.objects.create(
        payment_no=new_public_number("P"),
        order=order,
        merchant_id=order.merchant_id,
        channel="alipay_agreement",
        gateway="alipay",
        amount=order.total,
        currency=order.currency,
        expires_at=order.expires_at,
    )


def charge_request(live_url: str, payment: Payment, gateway_agreement_id: str, **overrides) -> ChargeRequest:
    fields = {
        "payment_no": payment.payment_no,
        "gateway_agreement_id": gateway_agreement_id,
        "amount": payment.amount,
        "currency": "CNY",
        "description": "Membership renewal",
        "notify_url": live_url + reverse("payments:withholding-webhook", args=["alipay"]),
    }
    fields.update(overrides)
    return ChargeRequest(**fields)


# -- the contract ---------------------------------------------------------------------------
def test_alipay_is_a_withholding_gateway_with_alipays_rules(db):
    gateway = get_gateway("alipay")
    assert supports_withholding(gateway)
    assert gateway.withholding_channels == ("alipay_agreement",)
    rules = gateway.withholding_rules
    assert (rules.min_period_days, rules.charge_early_days, rules.charge_window_days) == (7, 3, 1)
    assert (rules.last_monthly_charge_day, rules.timezone, rules.notice_days) == (28, "Asia/Shanghai", 0)


def test_sign_notify_query_charge_webhook_and_the_payer_unsigning(live_simulators, inbox, learner, course):
    live = live_simulators.url
    gateway = get_gateway("alipay")
    request, page, notification = signed(live, inbox)

    # dut_user_sign, delivered to the notify URL of page.sign and acknowledged.
    assert notification.state == AgreementState.ACTIVE
    assert notification.agreement_no == request.agreement_no
    assert notification.gateway_agreement_id and notification.payer_id.startswith("2088")
    assert notification.by_payer is False and notification.occurred_at is not None
    assert dict(notification.merchant_ids) == dict(gateway.merchant_ids)
    assert notification.payload["notify_type"] == "dut_user_sign" and "sign" not in notification.payload
    assert wait_for(
        lambda: SimNotification.objects.filter(
            event_id=notification.event_id, delivered_at__isnull=False
        ).exists()
    )

    status = gateway.agreement_query(request.agreement_no)
    assert status.state == AgreementState.ACTIVE
    assert (status.gateway_agreement_id, status.payer_id) == (
        notification.gateway_agreement_id,
        notification.payer_id,
    )
    assert status.signed_at is not None and dict(status.merchant_ids) == dict(gateway.merchant_ids)

    # The charge: answered at once, then its trade notification confirms kpay's payment
    # through the withholding webhook.
    payment = payment_for_charge(learner, course)
    result = gateway.charge(charge_request(live, payment, status.gateway_agreement_id))
    assert result.state == TradeState.SUCCEEDED
    assert (result.amount, result.currency, result.payer_id) == (payment.amount, "CNY", status.payer_id)
    assert result.gateway_txn_id and result.paid_at is not None
    assert wait_for(lambda: Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED)
    payment.refresh_from_db()
    assert payment.gateway_txn_id == result.gateway_txn_id
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.FULFILLED
    event = GatewayEvent.objects.get(gateway="alipay", payment=payment)
    assert event.outcome == GatewayEvent.Outcome.PROCESSED
    assert gateway.query_charge(payment.payment_no).state == TradeState.SUCCEEDED

    # The payer unsigns in the wallet: Alipay tells the app's gateway address.
    assert press(page, "unsign").status_code == 200
    headers, body = inbox.wait("dut_user_unsign")
    ended = gateway.parse_agreement_notification(headers, body)
    assert ended.state == AgreementState.TERMINATED and ended.by_payer is True
    assert (ended.agreement_no, ended.gateway_agreement_id) == (
        request.agreement_no,
        status.gateway_agreement_id,
    )
    assert ended.occurred_at is not None and ended.event_id != notification.event_id

    assert gateway.agreement_query(request.agreement_no).state == AgreementState.NOT_FOUND
    refused = gateway.charge(charge_request(live, payment_for_charge(learner), status.gateway_agreement_id))
    assert (refused.state, refused.failure_code) == (TradeState.FAILED, "ACQ.AGREEMENT_NOT_EXIST")


def test_a_failing_charge_says_why_and_the_same_payment_is_charged_once_the_payer_can_pay(
    live_simulators, inbox, learner, course
):
    live = live_simulators.url
    gateway = get_gateway("alipay")
    _request, page, notification = signed(live, inbox)
    assert press(page, "balance_short").status_code == 200
    payment = payment_for_charge(learner, course)
    charge = charge_request(live, payment, notification.gateway_agreement_id)

    failed = gateway.charge(charge)

    assert (failed.state, failed.failure_code) == (TradeState.FAILED, "ACQ.BUYER_BALANCE_NOT_ENOUGH")
    assert "余额不足" in failed.failure_message
    assert gateway.query_charge(payment.payment_no).state == TradeState.NOT_FOUND  # no trade was made
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING

    assert press(page, "balance_ok").status_code == 200
    paid = gateway.charge(charge)  # dunning: the same payment number, again

    assert paid.state == TradeState.SUCCEEDED
    assert wait_for(lambda: Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED)


def test_a_charge_above_single_amount_is_refused_and_takes_nothing(live_simulators, inbox, learner, course):
    live = live_simulators.url
    _request, _page, notification = signed(live, inbox, amount=9800)  # the course costs 99.00
    payment = payment_for_charge(learner, course)

    refused = get_gateway("alipay").charge(charge_request(live, payment, notification.gateway_agreement_id))

    assert (refused.state, refused.failure_code) == (TradeState.FAILED, "ACQ.CYCLE_PAY_SINGLE_FEE_EXCEED")
    assert not AlipayTrade.objects.filter(out_trade_no=payment.payment_no).exists()
    agreement = AlipayAgreement.objects.get(agreement_no=notification.gateway_agreement_id)
    assert (agreement.deducted_count, agreement.deducted_total) == (0, 0)


def test_a_trade_number_charges_once_and_a_period_once(live_simulators, inbox, learner, course):
    live = live_simulators.url
    gateway = get_gateway("alipay")
    _request, _page, notification = signed(live, inbox)
    payment = payment_for_charge(learner, course)
    charge = charge_request(live, payment, notification.gateway_agreement_id)

    first = gateway.charge(charge)
    again = gateway.charge(charge)  # a retry after a timeout, say

    assert first.state == again.state == TradeState.SUCCEEDED
    assert again.gateway_txn_id == first.gateway_txn_id and again.amount == payment.amount
    assert AlipayTrade.objects.filter(out_trade_no=payment.payment_no).count() == 1
    agreement = AlipayAgreement.objects.get(agreement_no=notification.gateway_agreement_id)
    assert (agreement.deducted_count, agreement.deducted_total) == (1, payment.amount)
    assert agreement.next_deduct_date == beijing_today() + timedelta(days=30)

    other = gateway.charge(
        charge_request(live, payment_for_charge(learner), notification.gateway_agreement_id)
    )
    assert (other.state, other.failure_code) == (TradeState.FAILED, "ACQ.CYCLE_PAY_DATE_NOT_MATCH")


@pytest.mark.parametrize(("days_ahead", "accepted"), [(3, True), (4, False)])
def test_charges_are_accepted_from_three_days_before_the_scheduled_day(
    live_simulators, inbox, learner, course, days_ahead, accepted
):
    live = live_simulators.url
    _request, _page, notification = signed(
        live, inbox, first_charge_on=beijing_today() + timedelta(days=days_ahead)
    )
    result = get_gateway("alipay").charge(
        charge_request(live, payment_for_charge(learner), notification.gateway_agreement_id)
    )
    if accepted:
        assert result.state == TradeState.SUCCEEDED
    else:
        assert (result.state, result.failure_code) == (TradeState.FAILED, "ACQ.CYCLE_PAY_DATE_NOT_MATCH")


def test_a_missed_day_is_charged_after_moving_the_plan(live_simulators, inbox, learner, course):
    """Past its day a charge is refused; executionplan.modify opens a later day."""
    live = live_simulators.url
    gateway = get_gateway("alipay")
    request, _page, notification = signed(live, inbox, first_charge_on=beijing_today() - timedelta(days=1))
    payment = payment_for_charge(learner, course)
    charge = charge_request(live, payment, notification.gateway_agreement_id)
    assert gateway.charge(charge).failure_code == "ACQ.CYCLE_PAY_DATE_NOT_MATCH"

    with pytest.raises(GatewayRejected) as earlier:
        gateway.agreement_reschedule(
            agreement_no=request.agreement_no,
            gateway_agreement_id=notification.gateway_agreement_id,
            next_charge_on=beijing_today() - timedelta(days=2),
        )
    assert earlier.value.gateway_code == "ILLEGAL_EXECUTION_TIME"
    gateway.agreement_reschedule(
        agreement_no=request.agreement_no,
        gateway_agreement_id=notification.gateway_agreement_id,
        next_charge_on=beijing_today(),
    )

    assert gateway.charge(charge).state == TradeState.SUCCEEDED


def test_a_monthly_agreement_moves_to_the_same_day_next_month(live_simulators, inbox, learner, course):
    live = live_simulators.url
    today = beijing_today()
    day = next(today + timedelta(days=n) for n in range(4) if (today + timedelta(days=n)).day <= 28)
    _request, _page, notification = signed(
        live, inbox, period_unit=PeriodUnit.MONTH, period=1, first_charge_on=day
    )

    result = get_gateway("alipay").charge(
        charge_request(live, payment_for_charge(learner), notification.gateway_agreement_id)
    )

    assert result.state == TradeState.SUCCEEDED
    following = day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1)
    assert (
        AlipayAgreement.objects.get(agreement_no=notification.gateway_agreement_id).next_deduct_date
        == following
    )


def test_kpay_unsigns_and_unsigning_again_is_fine(live_simulators, inbox, learner, course):
    live = live_simulators.url
    gateway = get_gateway("alipay")
    request, _page, notification = signed(live, inbox)

    gateway.agreement_terminate(
        agreement_no=request.agreement_no,
        gateway_agreement_id=notification.gateway_agreement_id,
        reason="the learner cancelled the membership",
    )
    gateway.agreement_terminate(  # repeatable, and by kpay's own number too
        agreement_no=request.agreement_no, gateway_agreement_id="", reason="again"
    )

    assert gateway.agreement_query(request.agreement_no).state == AgreementState.NOT_FOUND
    agreement = AlipayAgreement.objects.get(agreement_no=notification.gateway_agreement_id)
    assert agreement.status == AlipayAgreement.Status.UNSIGN and agreement.unsign_time is not None
    refused = gateway.charge(
        charge_request(live, payment_for_charge(learner), notification.gateway_agreement_id)
    )
    assert refused.failure_code == "ACQ.AGREEMENT_NOT_EXIST"
    # Sent without notify_url, Alipay notifies the app's gateway address (which must be
    # kpay's agreement URL); the notification does not say that kpay asked for it.
    ended = gateway.parse_agreement_notification(*inbox.wait("dut_user_unsign"))
    assert ended.state == AgreementState.TERMINATED and ended.agreement_no == request.agreement_no


def test_declining_to_sign_notifies_nothing_and_the_agreement_is_unknown(live_simulators, inbox):
    request = agreement_request(inbox)
    page = signing_page(live_simulators.url, request)

    assert press(page, "decline").status_code == 200

    assert get_gateway("alipay").agreement_query(request.agreement_no).state == AgreementState.NOT_FOUND
    assert not SimNotification.objects.filter(url=inbox.url).exists()


def test_an_unknown_agreement_is_not_found_and_cannot_be_charged(live_simulators, learner, course):
    gateway = get_gateway("alipay")
    assert gateway.agreement_query("KANEVERSIGNED").state == AgreementState.NOT_FOUND
    refused = gateway.charge(
        charge_request(live_simulators.url, payment_for_charge(learner, course), "2026000000000001")
    )
    assert (refused.state, refused.failure_code) == (TradeState.FAILED, "ACQ.AGREEMENT_NOT_EXIST")


def test_charges_are_on_the_trade_bill_like_other_trades(live_simulators, inbox, learner, course, tmp_path):
    live = live_simulators.url
    gateway = get_gateway("alipay")
    _request, _page, notification = signed(live, inbox)
    payment = payment_for_charge(learner, course)
    result = gateway.charge(charge_request(live, payment, notification.gateway_agreement_id))
    yesterday = timezone.now() - timedelta(days=1)
    AlipayTrade.objects.filter(out_trade_no=payment.payment_no).update(gmt_payment=yesterday)

    with open(tmp_path / "bill", "w+b") as into:
        gateway.fetch_bill(timezone.localtime(yesterday, SHANGHAI).date(), into)
        into.seek(0)
        lines = [line for line in gateway.read_bill(into) if line.trade_no == payment.payment_no]

    assert [(line.kind, line.amount, line.txn_id) for line in lines] == [
        (BillLineKind.PAYMENT, payment.amount, result.gateway_txn_id)
    ]


def test_the_exchanges_are_kept_without_keys_or_signatures(live_simulators, inbox, learner, course, settings):
    live = live_simulators.url
    gateway = get_gateway("alipay")
    request, _page, notification = signed(live, inbox)
    gateway.agreement_query(request.agreement_no)
    gateway.charge(charge_request(live, payment_for_charge(learner), notification.gateway_agreement_id))
    gateway.agreement_terminate(
        agreement_no=request.agreement_no,
        gateway_agreement_id=notification.gateway_agreement_id,
        reason="test",
    )

    exchanges = list(GatewayExchange.objects.filter(gateway="alipay"))
    assert {e.operation for e in exchanges} >= {"agreement_query", "charge", "agreement_terminate"}
    private_pem = Path(ensure_dev_keypair(settings.KPAY_KEY_DIR, ALIPAY_APP)[0]).read_text()
    key_lines = [line for line in private_pem.splitlines() if line and "PRIVATE KEY" not in line]
    for exchange in exchanges:
        text = " ".join([exchange.url, exchange.request_body, exchange.response_body])
        assert "PRIVATE KEY" not in text and not any(line in text for line in key_lines)
        assert "sign=[redacted]" in exchange.url
        assert '"sign":"[redacted]"' in exchange.response_body
    charge = next(e for e in exchanges if e.operation == "charge")
    assert "agreement_params" in charge.request_body and charge.trade_no and charge.status_code == 200
    assert APP_ID in charge.url and SELLER_ID not in charge.request_body
