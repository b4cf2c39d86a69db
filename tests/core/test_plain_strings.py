"""The paid order's statements send choice values (``TextChoices`` members such as
``Payment.Status.PENDING``) as plain ``str``: the same text to the database, and psycopg
finds ``str``'s dumper at once instead of walking the member's class hierarchy."""

import pytest
from django.db import connection

from orders.models import Order
from orders.services import order_checkout
from payments.services import payment_start


def flattened(params):
    for value in params or ():
        if isinstance(value, list | tuple):
            yield from flattened(value)
        else:
            yield value


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_choice_member_reaches_the_driver_on_a_paid_orders_path(learner, course, sandbox):
    from tests.factories import UserFactory

    sent = []

    def keep(execute, sql, params, many, context):
        sent.append((sql, params))
        return execute(sql, params, many, context)

    def paid_order(buyer):
        order = order_checkout(learner=buyer, course_slug=course.slug).order
        payment = payment_start(learner=buyer, order_no=order.order_no, channel="sandbox")
        body = sandbox.trade_event(payment)
        assert sandbox.post(body, sandbox.headers(body)).status_code == 204
        return order

    for _ in range(2):  # the first sales: the course read, shapes compiled, checked and kept
        paid_order(UserFactory())
    with connection.execute_wrapper(keep):
        order = paid_order(learner)

    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert len(sent) >= 5
    members = [
        (value, sql[:80])
        for sql, params in sent
        for value in flattened(params)
        if isinstance(value, str) and type(value) is not str
    ]
    assert members == []
