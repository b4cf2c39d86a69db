"""Real concurrency on PostgreSQL (threads, each with its own connection): one learner's
purchases of a plan converge on one open order, and deliveries racing for one membership
lay their periods one after the other (the membership row lock, memberships.locks)."""

from itertools import pairwise

import pytest

from memberships.models import Membership, MembershipPeriod
from memberships.services.purchase import plan_checkout, plan_purchase
from orders.models import Order
from orders.services import order_place
from payments.services import payment_start
from tests.concurrency import race, race_all

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_purchases_of_one_plan_make_one_open_order(learner, plan):
    results = race(10, lambda: plan_checkout(learner=learner, plan_slug=plan.slug))

    assert len({r.order.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert Order.objects.filter(learner=learner, status=Order.Status.PENDING_PAYMENT).count() == 1


@pytest.mark.parametrize("first_purchase", [False, True], ids=["new-membership", "existing-membership"])
def test_concurrent_deliveries_never_overlap(learner, plan, sandbox, buy_plan, first_purchase):
    if first_purchase:
        buy_plan(learner, plan)
    # Four orders of the same plan (other checkout keys, as renewals have), paid at once.
    orders = [
        order_place(learner=learner, purchase=plan_purchase(plan=plan, checkout_key=f"race:{i}")).order
        for i in range(4)
    ]
    payments = [payment_start(learner=learner, order_no=o.order_no, channel="sandbox") for o in orders]
    signed = []
    for payment in payments:
        body = sandbox.trade_event(payment)
        signed.append((body, sandbox.headers(body)))

    statuses = race_all([lambda one=one: sandbox.post(*one).status_code for one in signed])

    assert statuses == [204] * 4
    membership = Membership.objects.get(learner=learner, plan=plan)
    periods = list(MembershipPeriod.objects.filter(membership=membership).order_by("sequence"))
    assert len(periods) == 4 + first_purchase
    assert [p.sequence for p in periods] == list(range(1, len(periods) + 1))
    for before, after in pairwise(periods):
        assert after.starts_at == before.ends_at  # one after the other, no overlap, no gap
    assert membership.ends_at == periods[-1].ends_at
