"""The admin toolkit every kpay app uses: read-only mixins and inlines, status histories
in words, amounts (one display rule: ``yuan``), links and JSON columns, streamed CSV
export, the skeleton of a service page, background jobs with a progress page, and the
work queues on the back office's home page.

Importing it (the admin autodiscovers ``core.admin``) also names the back office. API tokens
and TOTP keys, which are credentials, are kept out of it by ``accounts.admin``.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.work_queues import WorkQueue, register_work_queue, work_queues

from .columns import admin_link, pretty_json, yuan, yuan_column, yuan_html
from .csv_export import CsvExportMixin, csv_cell, csv_yuan
from .history import StatusHistoryInline, status_label
from .jobs import job_progress_url, job_result_url, register_job_result
from .large_tables import NUMBER_SEARCH_HELP, LargeTableAdminMixin, NumberSearchMixin
from .readonly import ReadOnlyAdminMixin, ReadOnlyInline
from .risk import decision_label, risk_assessment_html
from .service_pages import service_form_view

admin.site.site_header = _("kpay back office")
admin.site.site_title = _("kpay back office")
admin.site.index_title = _("Back office")

__all__ = [
    "NUMBER_SEARCH_HELP",
    "CsvExportMixin",
    "LargeTableAdminMixin",
    "NumberSearchMixin",
    "ReadOnlyAdminMixin",
    "ReadOnlyInline",
    "StatusHistoryInline",
    "WorkQueue",
    "admin_link",
    "csv_cell",
    "csv_yuan",
    "decision_label",
    "job_progress_url",
    "job_result_url",
    "pretty_json",
    "register_job_result",
    "register_work_queue",
    "risk_assessment_html",
    "service_form_view",
    "status_label",
    "work_queues",
    "yuan",
    "yuan_column",
    "yuan_html",
]
