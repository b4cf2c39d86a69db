"""What staff see about a paid order and its payment."""

import pytest
from django.utils import translation

from courses import roles
from orders.models import Order
from payments.models import GatewayEvent, Payment

from .pages import admin_url

pytestmark = pytest.mark.django_db


def test_paid_order_page_shows_history_payment_and_risk(client, superuser, learner, course, pay):
    order, payment = pay(learner, course)
    client.force_login(superuser)

    response = client.get(admin_url(order, "change", order.pk), headers={"accept-language": "zh-hans"})

    assert response.status_code == 200
    page = response.text
    assert order.order_no in page and course.title in page and "¥99.00" in page
    with translation.override("zh-hans"):  # the status history, in words
        paid = f"{Order.Status.PENDING_PAYMENT.label} → {Order.Status.PAID.label}"
        delivered = f"{Order.Status.PAID.label} → {Order.Status.FULFILLED.label}"
        assert paid in page and delivered in page
        assert "pending_payment" not in page and "mark_paid" not in page
    assert f"payment {payment.payment_no}" in page  # the reason recorded with mark_paid
    assert admin_url(payment, "change", payment.pk) in page  # link to the payment
    assert "至下单时: 放行" not in page and "下单时: 放行" in page  # checkout risk assessment, in words
    assert 'name="_save"' not in page


def test_payment_page_shows_history_and_gateway_notifications(client, staff_in, learner, course, pay):
    order, payment = pay(learner, course)
    event = GatewayEvent.objects.get(payment=payment)
    client.force_login(staff_in(roles.SUPPORT))

    response = client.get(admin_url(payment, "change", payment.pk), headers={"accept-language": "zh-hans"})

    assert response.status_code == 200
    page = response.text
    assert payment.payment_no in page and payment.gateway_txn_id in page
    with translation.override("zh-hans"):  # history: pending -> succeeded, in words
        assert f"{Payment.Status.PENDING.label} → {Payment.Status.SUCCEEDED.label}" in page
    assert event.event_id in page and str(event.get_outcome_display()) in page
    assert admin_url(order, "change", order.pk) in page
