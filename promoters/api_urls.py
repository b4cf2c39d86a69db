from django.urls import path

from .api import MyPromotersApi, PromoterLinkCreateApi, PromoterPayoutCreateApi

urlpatterns = [
    path("promoter/", MyPromotersApi.as_view(), name="my-promoters"),
    path("promoter/<str:promoter_id>/links/", PromoterLinkCreateApi.as_view(), name="promoter-links"),
    path("promoter/<str:promoter_id>/payouts/", PromoterPayoutCreateApi.as_view(), name="promoter-payouts"),
]
