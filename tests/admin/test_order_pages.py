"""What staff see about a paid order and its payment."""

import pytest

from courses import roles
from payments.models import GatewayEvent

from .pages import admin_url

pytestmark = pytest.mark.django_db


def test_paid_order_page_shows_history_payment_and_risk(client, superuser, learner, course, pay):
    order, payment = pay(learner, course)
    client.force_login(superuser)

    response = client.get(admin_url(order, "change", order.pk))

    assert response.status_code == 200
    page = response.text
    assert order.order_no in page and course.title in page and "99.00" in page
    assert "mark_paid" in page and "fulfil" in page  # the status history
    assert f"payment {payment.payment_no}" in page  # the reason recorded with mark_paid
    assert admin_url(payment, "change", payment.pk) in page  # link to the payment
    assert "&quot;decision&quot;: &quot;allow&quot;" in page  # checkout risk assessment
    assert 'name="_save"' not in page


def test_payment_page_shows_history_and_gateway_notifications(client, staff_in, learner, course, pay):
    order, payment = pay(learner, course)
    event = GatewayEvent.objects.get(payment=payment)
    client.force_login(staff_in(roles.SUPPORT))

    response = client.get(admin_url(payment, "change", payment.pk))

    assert response.status_code == 200
    page = response.text
    assert payment.payment_no in page and payment.gateway_txn_id in page
    assert "succeed" in page and "pending" in page  # history: pending -> succeeded
    assert event.event_id in page and str(event.get_outcome_display()) in page
    assert admin_url(order, "change", order.pk) in page
