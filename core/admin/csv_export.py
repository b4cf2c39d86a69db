"""CSV export for admin change lists: what the page shows, filters and search applied.

A model admin mixes in :class:`CsvExportMixin` and lists its columns in
``csv_columns`` as ``(header, getter)`` pairs, a getter being a field name, a
``__``-path or a callable taking the row. The change list gets an "Export CSV" button
that downloads every row matching the current filters (not just the page), streamed
in chunks so a journal of millions of rows never sits in memory. Only users who may
view the model may export it, and the admin's own row scoping (a merchant sees only
its own rows) applies, because the rows come from the admin's change list.

Cells that a spreadsheet would run as a formula (starting with ``= + - @``, tab or CR,
and not a number) are prefixed with a quote: exported text is never executed.
"""

import csv
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.money import fen_to_yuan

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer."""

    def write(self, value):
        return value


def csv_cell(value) -> str:
    """One cell: dates in ISO format with the time zone, None empty, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    elif isinstance(value, Decimal):
        value = format(value, "f")
    text = str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        text = "'" + text
    return text


def _getter(spec: str | Callable) -> Callable:
    if callable(spec):
        return spec

    def get(obj):
        for part in spec.split("__"):
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        return obj

    return get


def csv_rows(queryset, columns, *, chunk_size: int = 2000) -> Iterator[list[str]]:
    getters = [_getter(spec) for _, spec in columns]
    yield [str(header) for header, _ in columns]
    for obj in queryset.iterator(chunk_size=chunk_size):
        yield [csv_cell(get(obj)) for get in getters]


def csv_response(rows: Iterator[list[str]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff"  # a BOM, so spreadsheet programs read UTF-8 (Chinese titles) right
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class CsvExportMixin:
    """Adds ``<changelist>/export.csv`` and an "Export CSV" button to a model admin."""

    csv_columns: list[tuple[str, str | Callable]] = []
    csv_filename: str = ""
    change_list_template = "admin/csv_export_change_list.html"

    def get_urls(self):
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}_export_csv"
        return [
            path("export.csv", self.admin_site.admin_view(self.export_csv_view), name=name),
            *super().get_urls(),
        ]

    def get_csv_columns(self, request) -> list[tuple[str, str | Callable]]:
        """The columns for this user (an admin may show some only to some users)."""
        return self.csv_columns

    def csv_queryset(self, request):
        """The change list's rows: its filters, search and the admin's own scoping."""
        return self.get_changelist_instance(request).get_queryset(request)

    def export_csv_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            rows = self.csv_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest(_("Unknown filter in the address: export from the list page."))
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        filename = f"{self.csv_filename or self.model._meta.model_name}-{stamp}.csv"
        return csv_response(csv_rows(rows, self.get_csv_columns(request)), filename)

    def changelist_view(self, request, extra_context=None):
        opts = self.model._meta
        extra_context = {
            **(extra_context or {}),
            "csv_export_url_name": f"admin:{opts.app_label}_{opts.model_name}_export_csv",
            "csv_export_label": _("Export CSV"),
        }
        return super().changelist_view(request, extra_context=extra_context)


def csv_yuan(fen: int | None) -> str:
    """A money cell: 9900 -> "99.00" (``core.money.fen_to_yuan``), empty for None."""
    return "" if fen is None else fen_to_yuan(fen)
