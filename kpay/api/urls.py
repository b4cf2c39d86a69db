from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import ScopedRateThrottle

from courses.api import CourseDetailApi, CourseListApi
from orders.api import OrderCancelApi, OrderDetailApi, OrderListCreateApi
from payments.api import OrderRefundListCreateApi, PaymentStartApi


class TokenApi(ObtainAuthToken):
    """``{username, password}`` → ``{"token"}``; then send ``Authorization: Token <token>``."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


app_name = "api"

urlpatterns = [
    path("auth/token/", TokenApi.as_view(), name="token"),
    path("courses/", CourseListApi.as_view(), name="course-list"),
    path("courses/<slug:slug>/", CourseDetailApi.as_view(), name="course-detail"),
    path("orders/", OrderListCreateApi.as_view(), name="order-list"),
    path("orders/<str:order_no>/", OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<str:order_no>/cancel/", OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<str:order_no>/pay/", PaymentStartApi.as_view(), name="order-pay"),
    path("orders/<str:order_no>/refunds/", OrderRefundListCreateApi.as_view(), name="order-refunds"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
