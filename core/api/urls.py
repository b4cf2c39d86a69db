"""Included last under the API: any path no route takes (a path parameter no route
accepts, e.g. a slug with a space, or one with a "/") is a 404 in the API's error shape,
not the site's HTML page. Only paths ending in "/", so a missing slash is still redirected."""

from django.urls import re_path

from .errors import api_not_found

urlpatterns = [re_path(r"^.*/$", api_not_found)]
