from django.urls import path

from .api import OrderCancelApi, OrderDetailApi, OrderListCreateApi

urlpatterns = [
    path("orders/", OrderListCreateApi.as_view(), name="order-list"),
    path("orders/<str:order_no>/", OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<str:order_no>/cancel/", OrderCancelApi.as_view(), name="order-cancel"),
]
