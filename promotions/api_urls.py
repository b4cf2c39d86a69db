from django.urls import path

from .api import CouponClaimApi, CouponWalletApi

urlpatterns = [
    path("coupons/", CouponWalletApi.as_view(), name="coupon-list"),
    path("coupons/claim/", CouponClaimApi.as_view(), name="coupon-claim"),
]
