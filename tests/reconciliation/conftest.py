import secrets
from datetime import date

import pytest
from django.utils import timezone, translation

from courses import roles
from orders.numbers import new_public_number
from orders.services import order_checkout
from payments.gateways import get_gateway
from payments.gateways.base import (
    Notification,
    NotificationKind,
    RefundState,
    RefundStatus,
    TradeState,
    TradeStatus,
)
from payments.gateways.wechatpay import WeChatPayGateway
from payments.models import Payment
from payments.services import payment_notification_handle, refund_issue, refund_process
from reconciliation.matching import BILL_TIMEZONE
from tests.factories import CourseFactory, UserFactory


@pytest.fixture(autouse=True)
def _english(client):
    """Messages in English, whatever translations the catalogue holds (they are asserted on)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def today() -> date:
    """The bill day of the crafted bills: today in Beijing, when the test's payments
    succeed (the gateways' day)."""
    return timezone.now().astimezone(BILL_TIMEZONE).date()


@pytest.fixture
def finance(staff):
    return staff(roles.FINANCE, "finance-fay")


@pytest.fixture
def support(staff):
    return staff(roles.SUPPORT, "support-sam")


@pytest.fixture
def course(db):
    return CourseFactory(price=9900)


def unpaid(course, *, gateway="wechatpay", channel="wechat_native") -> Payment:
    """A pending payment of a new learner's order on ``gateway``, made without calling
    the gateway (what payment_start saves after create_payment)."""
    order = order_checkout(learner=UserFactory(), course_slug=course.slug).order
    return Payment.objects.create(
        payment_no=new_public_number("P"),
        order=order,
        merchant_id=order.merchant_id,
        channel=channel,
        gateway=gateway,
        amount=order.total,
        currency=order.currency,
        expires_at=order.expires_at,
    )


def txn_id_for(payment: Payment) -> str:
    return f"4200{abs(hash(payment.payment_no)) % 10**24:024d}"


def paid(course, *, gateway="wechatpay", channel="wechat_native") -> Payment:
    """A payment applied through the verified-notification service, as the webhook does."""
    payment = notify_paid(unpaid(course, gateway=gateway, channel=channel))
    assert payment.status == Payment.Status.SUCCEEDED
    return payment


def notify_paid(payment: Payment) -> Payment:
    """Apply the gateway's (verified) success notification for ``payment``."""
    backend = get_gateway(payment.gateway)
    payment_notification_handle(
        gateway=backend,
        notification=Notification(
            event_id=f"EV{secrets.token_hex(8)}",
            event_type="TRANSACTION.SUCCESS",
            kind=NotificationKind.PAYMENT,
            trade_no=payment.payment_no,
            state=TradeState.SUCCEEDED,
            amount=payment.amount,
            currency=payment.currency,
            gateway_txn_id=txn_id_for(payment),
            merchant_ids=backend.merchant_ids,
        ),
    )
    payment.refresh_from_db()
    return payment


@pytest.fixture
def gateway_answers(monkeypatch):
    """What the WeChat Pay backend answers to queries and refunds (its simulator is not
    running in these tests): ``payments[payment_no]`` a TradeState, ``refunds[refund_no]``
    a RefundState. Unknown numbers: the gateway is unreachable."""
    from payments.exceptions import GatewayUnavailable

    class Answers:
        payments: dict = {}
        refunds: dict = {}
        paid_at = None
        asked: list = []

    answers = Answers()
    answers.payments, answers.refunds, answers.asked = {}, {}, []

    def query_payment(self, payment_no):
        answers.asked.append(payment_no)
        if payment_no not in answers.payments:
            raise GatewayUnavailable()
        payment = Payment.objects.get(payment_no=payment_no)
        return TradeStatus(
            payment_no=payment_no,
            state=answers.payments[payment_no],
            gateway_txn_id=txn_id_for(payment),
            amount=payment.amount,
            currency=payment.currency,
            paid_at=answers.paid_at or timezone.now(),
            merchant_ids=self.merchant_ids,
        )

    def refund_answer(refund_no):
        answers.asked.append(refund_no)
        if refund_no not in answers.refunds:
            raise GatewayUnavailable()
        return RefundStatus(
            refund_no=refund_no, state=answers.refunds[refund_no], gateway_refund_id=f"5030{refund_no}"
        )

    monkeypatch.setattr(WeChatPayGateway, "query_payment", query_payment)
    monkeypatch.setattr(WeChatPayGateway, "refund", lambda self, request: refund_answer(request.refund_no))
    monkeypatch.setattr(
        WeChatPayGateway, "query_refund", lambda self, refund_no, *, payment_no: refund_answer(refund_no)
    )
    return answers


@pytest.fixture
def refunded(gateway_answers, support):
    """Refund ``amount`` of a paid payment through the services; the gateway answers
    ``state`` (SUCCEEDED by default; PROCESSING leaves it processing in kpay)."""

    def make(payment: Payment, amount: int, state=RefundState.SUCCEEDED):
        refund = refund_issue(
            actor=support, order_id=payment.order_id, reason="reconciliation test", amount=amount
        )
        gateway_answers.refunds[refund.refund_no] = state
        refund = refund_process(refund_id=refund.pk)
        del gateway_answers.refunds[refund.refund_no]
        return refund

    return make
