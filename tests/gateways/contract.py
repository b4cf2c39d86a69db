"""The gateway contract, as tests every backend must pass against its simulator over
real HTTP on loopback.

A gateway's test module subclasses :class:`GatewayContract` and provides:

* ``alias`` and ``channel``: the gateway's alias in KPAY_GATEWAYS and a channel it serves;
* ``pay(payment)``: do what the payer does at the simulator (scan, press pay);
* ``signed_success_notification(payment) -> (body, headers, content_type)``: the
  notification the gateway would send for that payment, signed (``headers`` in Django
  test-client form: ``HTTP_…``), for the tests that tamper with it;
* for gateways with bills, ``put_on_yesterdays_bill(payment) -> date``: move the paid
  trade to yesterday at the simulator (bills are of past days) and return that day.
"""

import secrets
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from orders.models import Order
from orders.services import order_checkout
from payments.exceptions import GatewayRejected, GatewayUnavailable, TradeAlreadyPaid
from payments.gateways import get_gateway
from payments.gateways.base import BillLineKind, RefundRequest, RefundState, TradeState
from payments.models import Payment
from payments.services import payment_start
from tests.cashier import wait_for


@pytest.mark.django_db(transaction=True)
class GatewayContract:
    alias: str
    channel: str

    def pay(self, payment: Payment) -> None:
        raise NotImplementedError

    def signed_success_notification(self, payment: Payment) -> tuple[bytes, dict, str]:
        raise NotImplementedError

    def put_on_yesterdays_bill(self, payment: Payment):
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------
    def start(self, learner, course) -> tuple[Order, Payment]:
        order = order_checkout(learner=learner, course_slug=course.slug).order
        return order, payment_start(learner=learner, order_no=order.order_no, channel=self.channel)

    def paid(self, learner, course) -> tuple[Order, Payment]:
        order, payment = self.start(learner, course)
        self.pay(payment)
        assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)
        payment.refresh_from_db()
        return order, payment

    def refund_request(self, payment: Payment, amount: int, refund_no: str | None = None) -> RefundRequest:
        return RefundRequest(
            refund_no=refund_no or f"R{secrets.token_hex(8).upper()}",
            payment_no=payment.payment_no,
            gateway_txn_id=payment.gateway_txn_id,
            amount=amount,
            total=payment.amount,
            currency=payment.currency,
            reason="contract test",
            notify_url="",
        )

    # -- the contract -----------------------------------------------------------------
    def test_creating_a_payment_gives_the_client_a_way_to_pay(self, live_simulators, learner, course):
        _order, payment = self.start(learner, course)
        assert payment.gateway == self.alias
        action = payment.action
        assert action["code_url"] or action["redirect_url"] or action["client_params"]

    def test_an_unknown_trade_is_not_found(self, live_simulators):
        status = get_gateway(self.alias).query_payment(f"P{secrets.token_hex(8).upper()}")
        assert status.state == TradeState.NOT_FOUND

    def test_paying_notifies_kpay_which_delivers(self, live_simulators, learner, course):
        _order, payment = self.paid(learner, course)
        assert payment.status == Payment.Status.SUCCEEDED
        assert payment.gateway_txn_id

    def test_a_query_after_paying_reports_our_amount_and_ids(self, live_simulators, learner, course):
        order, payment = self.paid(learner, course)
        gateway = get_gateway(self.alias)
        status = gateway.query_payment(payment.payment_no)
        assert status.state == TradeState.SUCCEEDED
        assert (status.amount, status.currency) == (order.total, order.currency)
        assert status.gateway_txn_id == payment.gateway_txn_id
        assert dict(status.merchant_ids) == dict(gateway.merchant_ids)

    def test_closing_an_unpaid_trade(self, live_simulators, learner, course):
        _order, payment = self.start(learner, course)
        gateway = get_gateway(self.alias)
        gateway.close_payment(payment.payment_no)
        gateway.close_payment(payment.payment_no)  # repeatable
        assert gateway.query_payment(payment.payment_no).state in (TradeState.CLOSED, TradeState.NOT_FOUND)

    def test_closing_a_paid_trade_is_refused(self, live_simulators, learner, course):
        _order, payment = self.paid(learner, course)
        with pytest.raises(TradeAlreadyPaid):
            get_gateway(self.alias).close_payment(payment.payment_no)

    def test_a_refund_number_refunds_once(self, live_simulators, learner, course):
        _order, payment = self.paid(learner, course)
        gateway = get_gateway(self.alias)
        request = self.refund_request(payment, 100)

        first = gateway.refund(request)
        again = gateway.refund(request)

        assert first.state in (RefundState.SUCCEEDED, RefundState.PROCESSING)
        assert again.gateway_refund_id == first.gateway_refund_id
        queried = gateway.query_refund(request.refund_no, payment_no=payment.payment_no)
        assert queried.amount == 100 and queried.state in (RefundState.SUCCEEDED, RefundState.PROCESSING)
        with pytest.raises(GatewayRejected):
            gateway.refund(self.refund_request(payment, payment.amount))  # 100 already refunded

    def test_a_tampered_notification_changes_nothing(self, live_simulators, learner, course):
        _order, payment = self.start(learner, course)
        body, headers, content_type = self.signed_success_notification(payment)
        tampered = body.replace(str(payment.amount).encode(), str(payment.amount + 1).encode(), 1)
        assert tampered != body

        response = Client().post(
            f"/payments/webhooks/{self.alias}/", data=tampered, content_type=content_type, **headers
        )

        assert 400 <= response.status_code < 500
        assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING

    def test_the_genuine_notification_is_accepted(self, live_simulators, learner, course):
        order, payment = self.start(learner, course)
        body, headers, content_type = self.signed_success_notification(payment)
        response = Client().post(
            f"/payments/webhooks/{self.alias}/", data=body, content_type=content_type, **headers
        )
        assert response.status_code < 300
        assert Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED

    def test_an_unreachable_gateway_is_an_unknown_outcome(self, db):
        """Without the live server the gateway's URL is a closed loopback port."""
        with pytest.raises(GatewayUnavailable):
            get_gateway(self.alias).query_payment("P0000000001")

    def test_the_bill_of_a_day_lists_its_payment_streamed_to_a_file(
        self, live_simulators, learner, course, tmp_path
    ):
        """Bills are streamed into a file as delivered and read back line by line; a
        gateway without bills says so (and reconciliation skips it)."""
        gateway = get_gateway(self.alias)
        if not gateway.has_bills:
            with open(tmp_path / "bill", "wb") as into, pytest.raises(NotImplementedError):
                gateway.fetch_bill(timezone.localdate() - timedelta(days=1), into)
            return
        _order, payment = self.paid(learner, course)
        day = self.put_on_yesterdays_bill(payment)
        with open(tmp_path / "bill", "w+b") as into:
            bill = gateway.fetch_bill(day, into)
            assert bill.size == into.tell() > 0 and not bill.empty
            into.seek(0)
            lines = [line for line in gateway.read_bill(into) if line.trade_no == payment.payment_no]
        assert [(line.kind, line.amount, line.txn_id) for line in lines] == [
            (BillLineKind.PAYMENT, payment.amount, payment.gateway_txn_id)
        ]
