from django.urls import path

from .api import TokenApi

urlpatterns = [
    path("auth/token/", TokenApi.as_view(), name="token"),
]
