"""The seams orders and courses offer (they never import memberships): memberships plug
their line kind and their access source in when the app is ready."""

import pytest

from courses import access
from orders import delivery
from orders.models import Order
from orders.services import order_checkout, order_record_payment


def test_memberships_register_their_line_kind_and_access_source():
    assert {"course", "membership"} <= set(delivery.line_kinds())
    assert delivery.line_kind("membership").grant.__module__ == "memberships.services.periods"
    assert "membership" in [source.name for source in access.access_sources()]


def test_an_order_line_of_an_unknown_kind_cannot_be_delivered():
    with pytest.raises(LookupError):
        delivery.line_kind("gift-card")


@pytest.mark.django_db
def test_delivering_an_order_of_an_unregistered_kind_fails_loudly(learner, course):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    Order.objects.filter(pk=order.pk).update(lines=[{**order.lines[0], "kind": "gift-card"}])
    order.refresh_from_db()
    with pytest.raises(LookupError):
        order_record_payment(order=order, at=order.created_at, reason="test")
