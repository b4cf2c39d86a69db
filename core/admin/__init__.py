"""The admin toolkit every kpay app uses: read-only mixins and inlines, link, money and JSON
columns, streamed CSV export and the skeleton of a service page.

Importing it (the admin autodiscovers ``core.admin``) also names the back office and keeps
API tokens, which are credentials, out of it.
"""

from django.apps import apps
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .columns import admin_link, pretty_json, yuan
from .csv_export import CsvExportMixin, csv_cell, csv_yuan
from .readonly import ReadOnlyAdminMixin, ReadOnlyInline
from .service_pages import service_form_view

admin.site.site_header = _("kpay back office")
admin.site.site_title = _("kpay back office")
admin.site.index_title = _("Back office")

if apps.is_installed("rest_framework.authtoken"):
    from rest_framework.authtoken.models import TokenProxy

    if admin.site.is_registered(TokenProxy):
        admin.site.unregister(TokenProxy)

__all__ = [
    "CsvExportMixin",
    "ReadOnlyAdminMixin",
    "ReadOnlyInline",
    "admin_link",
    "csv_cell",
    "csv_yuan",
    "pretty_json",
    "service_form_view",
    "yuan",
]
