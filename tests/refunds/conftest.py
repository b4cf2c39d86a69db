import json
import secrets
import threading
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from courses import roles
from orders.services import order_checkout
from payments.gateways.base import RefundState, RefundStatus
from payments.gateways.sandbox import SandboxGateway
from payments.services import payment_start


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def buy(sandbox):
    """Buy ``course`` as ``learner`` through the services and the sandbox webhook."""

    def buy(learner, course):
        order = order_checkout(learner=learner, course_slug=course.slug).order
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
        assert sandbox.pay(payment).status_code == 204
        order.refresh_from_db()
        payment.refresh_from_db()
        return order, payment

    return buy


@pytest.fixture
def paid(buy, learner, course):
    """``(order, payment)``: ``course`` (99.00 yuan) bought by ``learner``."""
    return buy(learner, course)


@pytest.fixture
def support(staff):
    return staff(roles.SUPPORT, "support-ann")


@pytest.fixture
def support2(staff):
    return staff(roles.SUPPORT, "support-bob")


def refund_event(driver, refund, *, status="SUCCESS", event_id=None, amount=None, merchant_id=None) -> bytes:
    """The sandbox gateway's REFUND.* notification for ``refund``."""
    payment = refund.payment
    event = {
        "id": event_id or f"EV{secrets.token_hex(8)}",
        "event_type": "REFUND.SUCCESS" if status == "SUCCESS" else f"REFUND.{status}",
        "create_time": timezone.now().isoformat(),
        "resource": {
            "merchant_id": merchant_id or driver.merchant_id,
            "out_trade_no": payment.payment_no,
            "transaction_id": payment.gateway_txn_id,
            "out_refund_no": refund.refund_no,
            "refund_id": f"RF{refund.refund_no}",
            "status": status,
            "amount": {
                "refund": refund.amount if amount is None else amount,
                "total": payment.amount,
                "currency": refund.currency,
            },
            "success_time": timezone.now().isoformat() if status == "SUCCESS" else None,
        },
    }
    return json.dumps(event, separators=(",", ":")).encode()


@dataclass
class FakeRefunds:
    """Stands in for the gateway's refund API (the sandbox points at a closed port in
    tests): records every request and answers ``answer`` (a RefundState, an exception
    to raise, or a callable taking the request)."""

    answer: object = RefundState.PROCESSING
    query_answer: object = RefundState.SUCCEEDED
    requests: list = field(default_factory=list)
    queries: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refund(self, gateway, request):
        with self.lock:
            self.requests.append(request)
        return self._reply(self.answer, request.refund_no, request.amount, request)

    def query_refund(self, gateway, refund_no, *, payment_no):
        self.queries.append(refund_no)
        return self._reply(self.query_answer, refund_no, None, None)

    @staticmethod
    def _reply(answer, refund_no, amount, request):
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, RefundState):
            answer = answer(request)
        return RefundStatus(
            refund_no=refund_no, state=answer, gateway_refund_id=f"RF{refund_no}", amount=amount
        )


@pytest.fixture
def gateway_refunds(monkeypatch):
    fake = FakeRefunds()
    monkeypatch.setattr(SandboxGateway, "refund", lambda self, request: fake.refund(self, request))
    monkeypatch.setattr(
        SandboxGateway,
        "query_refund",
        lambda self, refund_no, *, payment_no: fake.query_refund(self, refund_no, payment_no=payment_no),
    )
    return fake
