from django.urls import path

from . import views

app_name = "promotions"

urlpatterns = [
    path("my/coupons/", views.my_coupons, name="my-coupons"),
    path("my/points/", views.my_points, name="my-points"),
    path("coupons/<int:coupon_id>/claim/", views.claim, name="claim"),
]
