from django.urls import path

from .api import LogoutApi, TokenApi, TokenDetailApi, TokenListApi

urlpatterns = [
    path("auth/token/", TokenApi.as_view(), name="token"),
    path("auth/tokens/", TokenListApi.as_view(), name="tokens"),
    path("auth/tokens/<str:token_id>/", TokenDetailApi.as_view(), name="token-detail"),
    path("auth/logout/", LogoutApi.as_view(), name="logout"),
]
