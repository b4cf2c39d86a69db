from django.urls import path

from .api import CouponClaimApi, CouponWalletApi, PointsApi

urlpatterns = [
    path("coupons/", CouponWalletApi.as_view(), name="coupon-list"),
    path("coupons/claim/", CouponClaimApi.as_view(), name="coupon-claim"),
    path("points/", PointsApi.as_view(), name="points"),
]
