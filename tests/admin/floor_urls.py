"""The admin under another prefix, its URL patterns read from the admin site when Django
builds its resolver (after a model registered meanwhile): ``test_admin_floor.py``."""

from django.contrib import admin
from django.urls import path


def __getattr__(name):
    if name == "urlpatterns":
        return [path("back-office/", admin.site.urls)]
    raise AttributeError(name)
