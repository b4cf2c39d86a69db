"""The whole path of one paid order in at most 15 SQL statements.

Run as a transactional test so each service's transaction is a real BEGIN/COMMIT, as
in production, rather than a SAVEPOINT pair inside the test's own transaction.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from orders.services import order_checkout
from payments.services import payment_start

PAID_ORDER_BUDGET = 15


@pytest.mark.django_db(transaction=True)
def test_one_paid_order_takes_at_most_15_statements(learner, course, sandbox):
    with CaptureQueriesContext(connection) as checkout:
        order = order_checkout(learner=learner, course_slug=course.slug).order
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    body = sandbox.trade_event(payment)  # the gateway's side: not counted
    headers = sandbox.headers(body)
    with CaptureQueriesContext(connection) as confirmation:
        response = sandbox.post(body, headers)

    assert response.status_code == 204
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    statements = [q["sql"] for q in checkout.captured_queries + confirmation.captured_queries]
    assert len(statements) <= PAID_ORDER_BUDGET, "\n".join(statements)
