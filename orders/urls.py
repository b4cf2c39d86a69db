from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("checkout/<slug:slug>/", views.checkout, name="checkout"),
    path("checkout/<slug:slug>/coupon/", views.checkout_with_coupon, name="checkout-coupon"),
    path("my/orders/", views.my_orders, name="my-orders"),
    path("my/orders/<str:order_no>/", views.order_detail, name="detail"),
    path("my/orders/<str:order_no>/cancel/", views.cancel, name="cancel"),
]
