"""Reconciliation in the back office, for platform staff only (merchants see none of it).

Runs are records: read-only, started from the "Reconcile a bill" page (upload a bill
or fetch it from the gateway), which queues a background job and shows its progress until
the run's page can be shown. Differences are the finance queue: filter by status,
kind, gateway; resolve one with a note (through the service); export as CSV.
"""

from datetime import date

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin import (
    CsvExportMixin,
    ReadOnlyAdminMixin,
    StatusHistoryInline,
    WorkQueue,
    admin_link,
    csv_yuan,
    job_progress_url,
    register_job_result,
    register_work_queue,
    service_form_view,
    yuan,
    yuan_column,
)
from courses import permissions
from courses.admin_scope import MerchantScopedAdminMixin
from payments.gateways.base import InvalidBill

from . import selectors, services
from .matching import BILL_TIMEZONE
from .models import Difference, DifferenceStatusChange, ReconciliationRun, ReconciliationRunStatusChange


class BillForm(forms.Form):
    gateway = forms.ChoiceField(label=_("gateway"))
    # A browser's date box takes and gives ISO dates, whatever the page's language.
    bill_date = forms.DateField(
        label=_("bill date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    file = forms.FileField(
        label=_("bill file"),
        required=False,
        help_text=_(
            "A trade bill downloaded from the gateway's merchant platform: CSV, gzip or zip, as "
            "downloaded. Leave empty to fetch the bill from the gateway."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gateway"].choices = [(alias, alias) for alias in services.bills_gateways()]
        self.fields["bill_date"].initial = services.yesterday()

    def clean_bill_date(self) -> date:
        day = self.cleaned_data["bill_date"]
        if day > timezone.now().astimezone(BILL_TIMEZONE).date():
            raise forms.ValidationError(_("A bill is of a past day (or today)."))
        return day


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("resolution note"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What was found and done, for whoever reads this later."),
    )


class _StatusHistoryInline(StatusHistoryInline):
    def has_view_permission(self, request, obj=None):
        """A history is part of its run or difference: whoever may see one sees it."""
        return self.admin_site.get_model_admin(self.parent_model).has_view_permission(request, obj)


class RunHistoryInline(_StatusHistoryInline):
    model = ReconciliationRunStatusChange


class DifferenceHistoryInline(_StatusHistoryInline):
    model = DifferenceStatusChange


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = None  # platform staff only
    list_display = (
        "__str__",
        "bill_date",
        "gateway",
        "source",
        "status",
        "lines",
        "matched",
        "differences_link",
        "repaired",
        "fees_shown",
        "started_at",
        "finished_at",
    )
    list_filter = ("status", "gateway", "source", "bill_date")
    list_select_related = ("uploaded_by",)
    date_hierarchy = "bill_date"
    ordering = ("-bill_date", "-started_at", "-pk")
    fields = (
        ("gateway", "bill_date", "status"),
        ("source", "uploaded_by"),
        ("file_name", "file_size", "file_sha256"),
        "error",
        ("lines", "payment_lines", "refund_lines"),
        ("matched", "repaired", "differences_link"),
        "totals",
        ("fees_posted", "fees_shown"),
        ("started_at", "finished_at"),
        "differences_preview",
    )
    readonly_fields = (
        "gateway",
        "bill_date",
        "status",
        "source",
        "uploaded_by",
        "file_name",
        "file_size",
        "file_sha256",
        "error",
        "lines",
        "payment_lines",
        "refund_lines",
        "matched",
        "repaired",
        "differences_link",
        "totals",
        "fees_posted",
        "fees_shown",
        "started_at",
        "finished_at",
        "differences_preview",
    )
    inlines = [RunHistoryInline]

    @admin.display(description=_("differences"), ordering="differences_found")
    def differences_link(self, run):
        url = reverse("admin:reconciliation_difference_changelist") + f"?run={run.pk}&status=all"
        return format_html('<a href="{}">{}</a>', url, run.differences_found)

    fees_shown = yuan_column("fees_posted_total", _("amount of fees recorded"))

    @admin.display(description=_("totals: the lines / the bill's summary"))
    def totals(self, run):
        rows = [
            (gettext("lines"), run.lines, run.summary_lines),
            (gettext("payments"), yuan(run.payments_total), yuan(run.summary_payments_total)),
            (gettext("refunds"), yuan(run.refunds_total), yuan(run.summary_refunds_total)),
            (gettext("fees"), yuan(run.fees_total), yuan(run.summary_fees_total)),
        ]
        body = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            ((name, counted, "-" if said is None else said) for name, counted, said in rows),
        )
        return format_html('<table style="margin:0">{}</table>', body)

    @admin.display(description=_("differences (first rows)"))
    def differences_preview(self, run):
        differences = selectors.run_differences_preview(run)
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:reconciliation_difference_change", args=[d.pk]),
                    d.get_kind_display(),
                    d.key,
                    d.get_status_display(),
                    d.detail,
                )
                for d in differences
            ),
        )
        return format_html('<table style="margin:0">{}</table>', rows) if rows else "-"

    # -- "Reconcile a bill" ---------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "reconcile/", self.admin_site.admin_view(self.reconcile_view), name="reconciliation_run_new"
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_reconcile": permissions.may_reconcile(request.user)}
        return super().changelist_view(request, extra_context=extra_context)

    def reconcile_view(self, request):
        if not permissions.may_reconcile(request.user):
            raise PermissionDenied

        def reconcile(data):
            job = services.reconciliation_job_start(
                actor=request.user,
                gateway_alias=data["gateway"],
                bill_date=data["bill_date"],
                upload=data["file"] or None,
            )
            return redirect(job_progress_url(job))

        return service_form_view(
            self,
            request,
            form=BillForm(request.POST or None, request.FILES or None),
            perform=reconcile,
            template="admin/reconciliation/reconciliationrun/reconcile.html",
            title=_("Reconcile a bill"),
            error_fields={InvalidBill: "file"},
        )


def _run_page(job) -> str | None:
    """Where a finished reconciliation job is shown: its run's page."""
    run_id = (job.result or {}).get("run_id")
    return reverse("admin:reconciliation_reconciliationrun_change", args=[run_id]) if run_id else None


register_job_result(services.JOB_KIND, _run_page)


@register_work_queue(order=40)
def open_differences(request):
    """Finance: what the gateways' bills and kpay disagree on, still open."""
    if not permissions.may_resolve_differences(request.user):
        return None
    return WorkQueue(
        label=_("Reconciliation differences"),
        count=selectors.open_differences().count(),
        url=reverse("admin:reconciliation_difference_changelist"),
        hint=_("Open differences between the gateways' bills and kpay."),
    )


class OpenFirstStatusFilter(admin.SimpleListFilter):
    """Open differences by default: the queue is what is left to do."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*Difference.Status.choices, ("all", _("All"))]

    def choices(self, changelist):
        value = self.value() or Difference.Status.OPEN
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or Difference.Status.OPEN
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(Difference)
class DifferenceAdmin(CsvExportMixin, ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """The differences queue. Differences are written by reconciliation runs and
    resolved, with a note, on their "Resolve" page."""

    merchant_field = None  # platform staff only
    change_form_template = "admin/reconciliation/difference/change_form.html"
    csv_filename = "differences"
    csv_columns = [
        ("difference", "pk"),
        ("gateway", "gateway"),
        ("bill_date", "bill_date"),
        ("kind", "kind"),
        ("status", "status"),
        ("trade_no", "trade_no"),
        ("txn_id", "txn_id"),
        ("refund_no", "refund_no"),
        ("kpay_amount_yuan", lambda d: csv_yuan(d.kpay_amount)),
        ("gateway_amount_yuan", lambda d: csv_yuan(d.gateway_amount)),
        ("detail", "detail"),
        ("run", "run_id"),
        ("found_at", "created_at"),
        ("last_seen_at", "updated_at"),
        ("resolved_by", "resolved_by__username"),
        ("resolved_at", "resolved_at"),
        ("resolution_note", "resolution_note"),
    ]
    list_display = (
        "bill_date",
        "gateway",
        "kind",
        "status",
        "trade_no",
        "kpay_shown",
        "gateway_shown",
        "payment_link",
        "detail",
        "run_link",
    )
    list_filter = (OpenFirstStatusFilter, "kind", "gateway", "bill_date")
    list_select_related = ("payment", "refund", "run", "resolved_by")
    search_fields = ("trade_no", "txn_id", "refund_no", "key", "detail")
    date_hierarchy = "bill_date"
    ordering = ("-bill_date", "kind", "pk")
    fields = (
        ("gateway", "bill_date", "kind", "status"),
        ("trade_no", "txn_id", "refund_no"),
        ("payment_link", "refund_link", "run_link"),
        ("kpay_shown", "gateway_shown"),
        "detail",
        ("created_at", "updated_at"),
        ("resolved_by", "resolved_at"),
        "resolution_note",
    )
    readonly_fields = (
        "gateway",
        "bill_date",
        "kind",
        "status",
        "trade_no",
        "txn_id",
        "refund_no",
        "payment_link",
        "refund_link",
        "run_link",
        "kpay_shown",
        "gateway_shown",
        "detail",
        "created_at",
        "updated_at",
        "resolved_by",
        "resolved_at",
        "resolution_note",
    )
    inlines = [DifferenceHistoryInline]

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "run" or super().lookup_allowed(lookup, value, request)

    kpay_shown = yuan_column("kpay_amount", _("kpay amount"))
    gateway_shown = yuan_column("gateway_amount", _("gateway amount"))

    @admin.display(description=_("payment"))
    def payment_link(self, difference):
        return admin_link(difference.payment)

    @admin.display(description=_("refund"))
    def refund_link(self, difference):
        return admin_link(difference.refund)

    @admin.display(description=_("latest run"), ordering="run")
    def run_link(self, difference):
        return admin_link(difference.run)

    # -- resolving -----------------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:difference_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="reconciliation_difference_resolve",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        difference = self.get_object(request, object_id)
        if (
            difference is not None
            and difference.status == Difference.Status.OPEN
            and permissions.may_resolve_differences(request.user)
        ):
            extra_context["resolve_url"] = reverse(
                "admin:reconciliation_difference_resolve", args=[difference.pk]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def resolve_view(self, request, difference_id):
        difference = self.get_queryset(request).filter(pk=difference_id).first()
        if difference is None or not self.has_view_permission(request, difference):
            raise Http404
        if not permissions.may_resolve_differences(request.user):
            raise PermissionDenied

        def resolve(data):
            services.difference_resolve(actor=request.user, difference_id=difference.pk, note=data["note"])
            messages.success(request, gettext("The difference is resolved."))
            return redirect("admin:reconciliation_difference_change", difference.pk)

        return service_form_view(
            self,
            request,
            form=ResolveForm(request.POST or None),
            perform=resolve,
            template="admin/reconciliation/difference/resolve.html",
            title=_("Resolve the difference"),
            context={"difference": difference},
        )
