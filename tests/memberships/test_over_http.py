"""A membership bought and refunded over real HTTP on loopback: the API of the live
server, the sandbox simulator's cashier, its signed notifications and its refund API."""

from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest

from courses import selectors
from memberships.models import Membership, MembershipPeriod
from memberships.services.refunds import period_refund_issue
from orders.models import Order
from payments import ledger
from payments.models import Payment, Refund
from payments.services import refund_approve
from tests.cashier import press, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def api(live_server, learner):
    """An HTTP client of the live server's API, logged in as ``learner`` with a token."""
    with httpx.Client(base_url=f"{live_server.url}/api/v1", timeout=10) as client:
        token = client.post("/auth/token/", json={"username": learner.username, "password": "pw-learner-123"})
        assert token.status_code == 200
        client.headers["Authorization"] = f"Token {token.json()['token']}"
        yield client


def test_buy_pay_at_the_cashier_and_refund_over_http(live_simulators, learner, plan, studio, support):
    with api(live_simulators, learner) as client:
        created = client.post(
            f"/memberships/plans/{plan.slug}/orders/", json={}, headers={"Idempotency-Key": "m-1"}
        )
        assert created.status_code == 201
        order_no = created.json()["order_no"]
        started = client.post(f"/orders/{order_no}/pay/", json={"channel": "sandbox"})
        assert started.status_code == 201

        press(started.json()["code_url"], "pay")  # the simulator notifies kpay over HTTP

        assert wait_for(lambda: Order.objects.get(order_no=order_no).status == Order.Status.FULFILLED)
        period = MembershipPeriod.objects.get(order_no=order_no)
        course = studio.courses.get(slug="studio-one")
        assert selectors.learner_owns_course(learner=learner, course=course)
        mine = client.get("/memberships/mine/").json()["results"]
        assert [m["state"] for m in mine] == ["active"] and mine[0]["periods"][0]["order_no"] == order_no

        asked = client.post(f"/orders/{order_no}/refunds/", json={"reason": "changed my mind"})
        assert asked.status_code == 201
        refund_approve(actor=support, refund_id=Refund.objects.get().pk, note="ok")  # sent on commit

        assert wait_for(lambda: Refund.objects.get().status == Refund.Status.SUCCEEDED)
        period.refresh_from_db()
        assert period.status == "refunded" and period.ended_at is not None
        assert not selectors.learner_owns_course(learner=learner, course=course)
        assert client.get("/memberships/mine/").json()["results"][0]["state"] == "ended"
    assert ledger.account_balances()[ledger.gateway_clearing("sandbox")] == 0


def test_a_pro_rata_refund_goes_to_the_simulator(live_simulators, learner, plan, support):
    with api(live_simulators, learner) as client:
        order_no = client.post(f"/memberships/plans/{plan.slug}/orders/", json={}).json()["order_no"]
        code_url = client.post(f"/orders/{order_no}/pay/", json={"channel": "sandbox"}).json()["code_url"]
    press(code_url, "pay")
    assert wait_for(lambda: Order.objects.get(order_no=order_no).status == Order.Status.FULFILLED)
    # Pretend the refund window is over and nine days have passed.
    order = Order.objects.get(order_no=order_no)
    period = MembershipPeriod.objects.get(order_no=order_no)
    shift = timedelta(days=9)
    Order.objects.filter(pk=order.pk).update(paid_at=order.paid_at - shift)
    MembershipPeriod.objects.filter(pk=period.pk).update(
        starts_at=period.starts_at - shift, ends_at=period.ends_at - shift
    )
    Membership.objects.filter(pk=period.membership_id).update(ends_at=period.ends_at - shift)
    period.refresh_from_db()

    refund = period_refund_issue(actor=support, period_id=period.pk, reason="pro rata")

    assert 0 < refund.amount < 3000
    assert wait_for(lambda: Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED)
    assert Payment.objects.get(order__order_no=order_no).refunded_amount == refund.amount
    assert Order.objects.get(order_no=order_no).status == Order.Status.PARTIALLY_REFUNDED
