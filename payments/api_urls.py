from django.urls import path

from .api import OrderRefundListCreateApi, PaymentStartApi

urlpatterns = [
    path("orders/<str:order_no>/pay/", PaymentStartApi.as_view(), name="order-pay"),
    path("orders/<str:order_no>/refunds/", OrderRefundListCreateApi.as_view(), name="order-refunds"),
]
