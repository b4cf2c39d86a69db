"""The API documentation pages, under the API's namespace (``api:docs``, ``api:redoc``)."""

from django.urls import path

from .docs import RedocView, SwaggerView

urlpatterns = [
    path("docs/", SwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", RedocView.as_view(url_name="api:schema"), name="redoc"),
]
