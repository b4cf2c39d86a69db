"""The JSON API, version 1: each app's API URLs under one ``api`` namespace, the schema and
its documentation (Swagger UI and ReDoc from our own static files: core.api.docs)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

app_name = "api"

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("courses.api_urls")),
    path("", include("orders.api_urls")),
    path("", include("promotions.api_urls")),
    path("", include("payments.api_urls")),
    path("", include("memberships.api_urls")),
    path("", include("promoters.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("", include("core.api.docs_urls")),  # docs/ (Swagger UI) and redoc/
    # Last: any other path under the API is a 404 in the API's error shape.
    path("", include("core.api.urls")),
]
