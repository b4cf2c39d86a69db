"""Payments extends the order's admin page by subclassing and re-registering, never by
changing ``OrderAdmin`` itself."""

from django.contrib import admin

from orders.admin import OrderAdmin, OrderStatusChangeInline
from orders.models import Order
from payments.admin import PaymentInline, PaymentsOrderAdmin, RefundInline


def test_the_order_page_is_registered_as_the_payments_subclass():
    registered = admin.site.get_model_admin(Order)
    assert type(registered) is PaymentsOrderAdmin and isinstance(registered, OrderAdmin)
    assert registered.inlines == [OrderStatusChangeInline, PaymentInline, RefundInline]


def test_order_admin_itself_is_left_as_orders_declares_it():
    assert OrderAdmin.inlines == [OrderStatusChangeInline]
    assert not hasattr(OrderAdmin, "extra_inlines") and not hasattr(OrderAdmin, "extra_object_tools")
