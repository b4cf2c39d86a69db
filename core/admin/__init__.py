"""The admin toolkit every kpay app uses: read-only mixins and inlines, link, money and JSON
columns, streamed CSV export and the skeleton of a service page.

Importing it (the admin autodiscovers ``core.admin``) also names the back office. API tokens
and TOTP keys, which are credentials, are kept out of it by ``accounts.admin``.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .columns import admin_link, pretty_json, yuan
from .csv_export import CsvExportMixin, csv_cell, csv_yuan
from .readonly import ReadOnlyAdminMixin, ReadOnlyInline
from .service_pages import service_form_view

admin.site.site_header = _("kpay back office")
admin.site.site_title = _("kpay back office")
admin.site.index_title = _("Back office")

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
