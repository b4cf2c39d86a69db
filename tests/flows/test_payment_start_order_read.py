"""Payment start reads the order without its ``risk_assessment`` (it never uses it);
the payment, its cashier URL and the order's record are what they were."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from orders.services import order_checkout
from payments.services import payment_start


@pytest.mark.django_db
def test_payment_start_does_not_read_the_orders_risk_assessment(learner, course, sandbox):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    with CaptureQueriesContext(connection) as start:
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")

    order_read = start.captured_queries[0]["sql"]
    assert '"orders_order"."order_no"' in order_read
    assert "risk_assessment" not in order_read
    assert payment.amount == order.total and payment.currency == order.currency
    assert "/cashier/?" in payment.action["redirect_url"]
    # Still there for anyone who asks (a deferred field: read on access).
    with CaptureQueriesContext(connection) as access:
        assert payment.order.risk_assessment == Order.objects.get(pk=order.pk).risk_assessment
    assert payment.order.risk_assessment["decision"] == "allow"
    assert len(access) == 2  # the deferred field's read, and the comparison's own


@pytest.mark.django_db
def test_a_started_payment_is_reused_with_the_deferred_read(learner, course, sandbox):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    first = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    assert payment_start(learner=learner, order_no=order.order_no, channel="sandbox") == first
