"""The finance console: merchant balances, statements, payouts and the dashboard.

Everything here is read-only or calls the services: payouts are requested (merchant
staff), approved, rejected, failed and marked paid (finance) on pages that call
``settlement.services``; statements are made by the beat task. Merchant staff see their
own merchant's rows only (``MerchantScopedAdminMixin``), on every page.
"""

from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from core.admin import (
    CsvExportMixin,
    ReadOnlyAdminMixin,
    StatusHistoryInline,
    WorkQueue,
    csv_yuan,
    register_work_queue,
    service_form_view,
    yuan,
    yuan_column,
    yuan_html,
)
from core.admin.large_tables import CachedUrlChangeList
from core.admin_urls import cached_reverse
from core.money import YuanField
from courses import permissions
from courses.admin_scope import MerchantScopedAdminMixin
from courses.models import Merchant
from courses.roles import user_merchant
from payments import ledger

from . import charts, selectors
from .crypto import mask
from .models import Dashboard, MerchantBalance, Payout, PayoutStatusChange, SettlementStatement
from .services import payout_approve, payout_fail, payout_mark_paid, payout_reject, payout_request


# -- balances -------------------------------------------------------------------------
class _BalanceChangeList(CachedUrlChangeList):
    """Reads the page's balances from the journal in one go (two queries per page); its
    rows are written by ``core.admin.rows`` (a column decided once, not per cell)."""

    def get_results(self, request):
        super().get_results(request)
        balances = ledger.merchant_balances([merchant.pk for merchant in self.result_list])
        for merchant in self.result_list:
            merchant.balances = balances[merchant.pk]


class InDebtFilter(admin.SimpleListFilter):
    title = _("available balance")
    parameter_name = "balance"

    def lookups(self, request, model_admin):
        return [("debt", _("In debt (negative)")), ("positive", _("Withdrawable (positive)"))]

    def queryset(self, request, queryset):
        if self.value() in ("debt", "positive"):
            return selectors.merchants_by_available_balance(queryset, in_debt=self.value() == "debt")
        return queryset


@admin.register(MerchantBalance)
class MerchantBalanceAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """Each merchant's money in the journal: pending (in the refund window), available
    (withdrawable; negative is a debt, 欠款), payouts in flight and paid out."""

    merchant_field = "pk"
    change_list_template = "admin/settlement/merchantbalance/change_list.html"
    list_display = ("name", "pending", "available", "payouts_in_flight", "paid_out", "links")
    list_display_links = None
    list_filter = (InDebtFilter,)
    search_fields = ("name", "slug")
    ordering = ("name", "pk")

    def get_changelist(self, request, **kwargs):
        return _BalanceChangeList

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]

    @admin.display(description=_("pending"))
    def pending(self, merchant):
        return yuan(merchant.balances["pending"])

    @admin.display(description=_("available"))
    def available(self, merchant):
        fen = merchant.balances["available"]
        if fen < 0:
            return format_html('<strong class="kpay-negative">{} ({})</strong>', yuan(fen), _("debt / 欠款"))
        return yuan(fen)

    @admin.display(description=_("payouts in flight"))
    def payouts_in_flight(self, merchant):
        return yuan(merchant.balances["payouts"])

    @admin.display(description=_("paid out"))
    def paid_out(self, merchant):
        return yuan(merchant.balances["paid_out"])

    @admin.display(description=_("details"))
    def links(self, merchant):
        query = urlencode({"merchant__id__exact": merchant.pk})
        return format_html(
            '<a href="{}?{}">{}</a> · <a href="{}?{}">{}</a>',
            cached_reverse("admin:settlement_settlementstatement_changelist"),  # not 2 reverse() a row
            query,
            _("statements"),
            cached_reverse("admin:settlement_payout_changelist"),
            query,
            _("payouts"),
        )


# -- statements -----------------------------------------------------------------------
def _statement_column(name):
    return lambda statement: csv_yuan(getattr(statement, name))


@admin.register(SettlementStatement)
class SettlementStatementAdmin(
    CsvExportMixin, ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin
):
    """Statements (对账单), made each night from the journal; the ledger check keeps
    them honest. Read-only for everyone."""

    csv_filename = "statements"

    def get_changelist(self, request, **kwargs):
        return CachedUrlChangeList  # rows by ``core.admin.rows``, links without a reverse() each

    csv_columns = [
        ("merchant_id", "merchant_id"),
        ("merchant", "merchant__name"),
        ("period_start", "period_start"),
        ("period_end", "period_end"),
        ("currency", "currency"),
        *[
            (f"{name}_yuan", _statement_column(name))
            for name in SettlementStatement.FIGURES
            if name not in ("order_count", "refund_count")
        ],
        ("merchant_coupons_yuan", _statement_column("merchant_coupons")),
        ("order_count", "order_count"),
        ("refund_count", "refund_count"),
        ("generated_at", "generated_at"),
    ]
    list_display = (
        "period",
        "merchant",
        "gross_yuan",
        "refunds_yuan",
        "commission_yuan",
        "promoter_commission_yuan",
        "fees_yuan",
        "net_yuan",
        "settled_yuan",
        "charge_backs_yuan",
        "payouts_paid_yuan",
        "opening_yuan",
        "closing_yuan",
        "order_count",
        "refund_count",
    )
    list_filter = (("merchant", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("merchant",)
    date_hierarchy = "period_start"
    search_fields = ("merchant__name",)
    ordering = ("-period_start", "merchant__name", "pk")
    fieldsets = [
        (None, {"fields": [("merchant", "period_start", "period_end", "currency")]}),
        (
            _("Sales"),
            {
                "fields": [
                    ("gross_yuan", "order_count"),
                    ("refunds_yuan", "refund_count"),
                    "commission_yuan",
                    "promoter_commission_yuan",
                    "fees_yuan",
                    "net_yuan",
                    "platform_coupons_yuan",
                    "points_redeemed_yuan",
                    "merchant_coupons_yuan",
                ]
            },
        ),
        (
            _("Available balance"),
            {
                "fields": [
                    "opening_yuan",
                    "settled_yuan",
                    "charge_backs_yuan",
                    "payouts_requested_yuan",
                    "payouts_returned_yuan",
                    "closing_yuan",
                    "payouts_paid_yuan",
                ]
            },
        ),
        (None, {"fields": ["generated_at"]}),
    ]
    readonly_fields = (
        "merchant",
        "period_start",
        "period_end",
        "currency",
        "gross_yuan",
        "order_count",
        "refunds_yuan",
        "refund_count",
        "commission_yuan",
        "promoter_commission_yuan",
        "fees_yuan",
        "net_yuan",
        "platform_coupons_yuan",
        "points_redeemed_yuan",
        "merchant_coupons_yuan",
        "opening_yuan",
        "settled_yuan",
        "charge_backs_yuan",
        "payouts_requested_yuan",
        "payouts_returned_yuan",
        "payouts_paid_yuan",
        "closing_yuan",
        "generated_at",
    )

    @admin.display(description=_("period"), ordering="period_start")
    def period(self, statement):
        if statement.period_start == statement.period_end:
            return f"{statement.period_start:%Y-%m-%d}"
        return f"{statement.period_start:%Y-%m-%d} – {statement.period_end:%Y-%m-%d}"

    # Figures that may be negative (net, balances, charge-backs) show in red when they are.
    gross_yuan = yuan_column("gross_sales", _("gross sales"))
    refunds_yuan = yuan_column("refunds", _("refunds"))
    commission_yuan = yuan_column("commission", _("commission"), signed=True)
    promoter_commission_yuan = yuan_column("promoter_commission", _("promoter commission"), signed=True)
    fees_yuan = yuan_column("gateway_fees", _("gateway fees"), signed=True)
    net_yuan = yuan_column("net", _("net"), signed=True)
    platform_coupons_yuan = yuan_column(
        "platform_coupons", _("of which paid by platform coupons"), signed=True
    )
    points_redeemed_yuan = yuan_column("points_redeemed", _("of which paid with points"), signed=True)
    # Not part of gross sales or net (already out of both): settlement.coupons.
    merchant_coupons_yuan = yuan_column(
        "merchant_coupons", _("merchant's own coupons (not in gross sales)"), signed=True
    )
    settled_yuan = yuan_column("settled", _("settled to available"), signed=True)
    charge_backs_yuan = yuan_column("charge_backs", _("charge-backs"), signed=True)
    payouts_requested_yuan = yuan_column("payouts_requested", _("payouts requested"))
    payouts_returned_yuan = yuan_column("payouts_returned", _("payouts returned"))
    payouts_paid_yuan = yuan_column("payouts_paid", _("payouts paid"))
    opening_yuan = yuan_column("opening_available", _("opening available"), signed=True)
    closing_yuan = yuan_column("closing_available", _("closing available"), signed=True)


# -- payouts --------------------------------------------------------------------------
class PayoutRequestForm(forms.Form):
    amount = YuanField(label=_("amount"), min_fen=1, max_digits=12)
    account_name = forms.CharField(label=_("account holder"), max_length=120)
    bank_name = forms.CharField(label=_("bank"), max_length=120)
    account_number = forms.CharField(label=_("account number"), max_length=64)

    def __init__(self, *args, available: int, last_account=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.available = available
        if last_account is not None:
            # Masked: the merchant's own staff see the last payout's number as **** 1234.
            self.fields["account_number"].required = False
            self.fields["account_number"].help_text = _(
                "Leave empty to use the account of your last payout (%(masked)s)."
            ) % {"masked": mask(last_account.account_last4)}
        self.fields["amount"].help_text = _("Between %(min)s and %(max)s, at most what is available.") % {
            "min": yuan(settings.KPAY_PAYOUT_MIN),
            "max": yuan(settings.KPAY_PAYOUT_MAX),
        }

    def clean_amount(self):
        fen = self.cleaned_data["amount"]
        if fen < settings.KPAY_PAYOUT_MIN:
            raise forms.ValidationError(
                _("The minimum payout is %(min)s.") % {"min": yuan(settings.KPAY_PAYOUT_MIN)}
            )
        if fen > settings.KPAY_PAYOUT_MAX:
            raise forms.ValidationError(
                _("The maximum payout is %(max)s.") % {"max": yuan(settings.KPAY_PAYOUT_MAX)}
            )
        if fen > self.available:
            raise forms.ValidationError(
                _("Only %(available)s is available.") % {"available": yuan(max(self.available, 0))}
            )
        return fen


class PayoutDecisionForm(forms.Form):
    reference = forms.CharField(label=_("transfer reference"), max_length=80)
    note = forms.CharField(
        label=_("note"), max_length=255, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, needs_reference: bool, note_required: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not needs_reference:
            del self.fields["reference"]
        else:
            self.fields["reference"].help_text = _("The bank's reference of the transfer.")
        self.fields["note"].required = note_required


# action -> (service, label, statuses it applies to, whether a note is required)
PAYOUT_DECISIONS = {
    "approve": (payout_approve, _("Approve"), (Payout.Status.REQUESTED,), False),
    "pay": (payout_mark_paid, _("Mark paid"), (Payout.Status.APPROVED,), False),
    "reject": (
        payout_reject,
        _("Reject"),
        (Payout.Status.REQUESTED, Payout.Status.APPROVED),
        True,
    ),
    "fail": (payout_fail, _("Transfer failed"), (Payout.Status.APPROVED,), True),
}


class PayoutStatusChangeInline(StatusHistoryInline):
    model = PayoutStatusChange


@admin.register(Payout)
class PayoutAdmin(CsvExportMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """Payouts (提现). Merchant staff request them ("Add payout"); finance works the
    queue (filter by status): approve, reject with a note, mark paid with the bank's
    reference, or record a failed transfer. Fields are never edited here."""

    change_form_template = "admin/settlement/payout/change_form.html"
    csv_filename = "payouts"
    csv_columns = [
        ("payout_no", "payout_no"),
        ("merchant_id", "merchant_id"),
        ("merchant", "merchant__name"),
        ("amount_yuan", lambda payout: csv_yuan(payout.amount)),
        ("currency", "currency"),
        ("status", "status"),
        ("requested_by", "requested_by__username"),
        ("requested_at", "requested_at"),
        ("decided_by", "decided_by__username"),
        ("decided_at", "decided_at"),
        ("decision_note", "decision_note"),
        ("paid_at", "paid_at"),
        ("transfer_reference", "transfer_reference"),
        ("account_name", "account_name"),
        ("bank_name", "bank_name"),
        ("account_number", lambda payout: mask(payout.account_last4)),
    ]
    # Finance's export: the full number (courses.permissions.may_see_bank_accounts).
    csv_columns_finance = [
        *csv_columns[:-1],
        ("account_number", "account_number"),
    ]
    list_display = (
        "payout_no",
        "merchant",
        "payee_shown",
        "amount_shown",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "paid_at",
        "transfer_reference",
        "account",
        "decisions",
    )
    # account_number is replaced by account_masked for everyone but finance (get_fields).
    list_filter = ("status", ("merchant", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("merchant", "requested_by", "decided_by")
    search_fields = ("payout_no", "transfer_reference", "merchant__name")
    ordering = ("-requested_at", "-pk")
    fields = (
        ("payout_no", "status"),
        ("merchant", "payee_shown", "amount_shown", "currency"),
        ("account_name", "bank_name", "account_number"),
        ("requested_by", "requested_at"),
        ("decided_by", "decided_at", "decision_note"),
        ("approved_by", "paid_by"),
        ("paid_at", "transfer_reference"),
    )
    readonly_fields = (
        "payout_no",
        "status",
        "merchant",
        "payee_shown",
        "amount_shown",
        "currency",
        "account_name",
        "bank_name",
        "account_number",
        "account_masked",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decision_note",
        "approved_by",
        "paid_by",
        "paid_at",
        "transfer_reference",
    )
    inlines = [PayoutStatusChangeInline]

    @admin.display(description=_("payee"), ordering="payee")
    def payee_shown(self, obj):
        """Who is paid: the merchant itself, or one of its promoters (settlement.payees)."""
        return obj.payee or _("the merchant")

    # -- permissions: requests and decisions go through the services' own rules --
    def has_add_permission(self, request):
        return permissions.may_request_payout(request.user)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _may_see_accounts(self, request) -> bool:
        if not hasattr(request, "_kpay_may_see_bank_accounts"):
            request._kpay_may_see_bank_accounts = permissions.may_see_bank_accounts(request.user)
        return request._kpay_may_see_bank_accounts

    def get_fields(self, request, obj=None):
        """Finance sees the account number in full; everyone else its mask."""
        if self._may_see_accounts(request):
            return self.fields
        return tuple(
            tuple("account_masked" if name == "account_number" else name for name in row)
            if isinstance(row, tuple)
            else row
            for row in self.fields
        )

    def get_csv_columns(self, request):
        return self.csv_columns_finance if self._may_see_accounts(request) else self.csv_columns

    def _may_decide(self, request) -> bool:
        if not hasattr(request, "_kpay_may_decide_payouts"):
            request._kpay_may_decide_payouts = permissions.may_decide_payouts(request.user)
        return request._kpay_may_decide_payouts

    def decisions_for(self, request, payout) -> list[tuple[str, str]]:
        """``(url, label)`` of each decision the user may take on ``payout`` now."""
        if not self._may_decide(request):
            return []
        return [
            (reverse("admin:settlement_payout_decide", args=[payout.pk, action]), label)
            for action, (_service, label, statuses, _note) in PAYOUT_DECISIONS.items()
            if payout.status in statuses
            # Whoever approved it does not mark it paid: a second finance user does.
            and not (action == "pay" and payout.approved_by_id == request.user.pk)
        ]

    # -- columns --
    amount_shown = yuan_column("amount", _("amount"))

    @admin.display(description=_("account"))
    def account(self, payout):
        return mask(payout.account_last4)

    @admin.display(description=_("account number"))
    def account_masked(self, payout):
        return mask(payout.account_last4)

    @admin.display(description=_("decide"))
    def decisions(self, payout):
        return getattr(payout, "decisions_html", "")

    def get_list_display(self, request):
        display = list(super().get_list_display(request))
        if not self._may_decide(request):
            display.remove("decisions")
        return display

    def get_changelist(self, request, **kwargs):
        admin_self = self

        class PayoutChangeList(ChangeList):
            def get_results(self, request):
                super().get_results(request)
                for payout in self.result_list:
                    payout.decisions_html = format_html_join(
                        " · ", '<a href="{}">{}</a>', admin_self.decisions_for(request, payout)
                    )

        return PayoutChangeList

    # -- pages that call the services --
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:payout_id>/decide/<str:action>/",
                wrap(self.decision_view),
                name="settlement_payout_decide",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        payout = self.get_object(request, object_id)
        if payout is not None:
            extra_context["payout_decisions"] = self.decisions_for(request, payout)
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        """A merchant's staff ask for a payout of its available balance."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        merchant = user_merchant(request.user)
        available = ledger.merchant_available_balance(merchant.pk)
        last = selectors.payout_last_account(merchant_id=merchant.pk)
        # The number itself is never put in the page: left empty, it is the last one's.
        initial = {"account_name": last.account_name, "bank_name": last.bank_name} if last else {}
        form = PayoutRequestForm(
            request.POST or None, initial=initial, available=available, last_account=last
        )

        def request_payout(data):
            payout = payout_request(
                merchant=merchant,
                amount=data["amount"],
                by=request.user,
                account_name=data["account_name"],
                bank_name=data["bank_name"],
                account_number=data["account_number"] or (last.account_number if last else ""),
            )
            messages.success(
                request,
                _("Payout %(no)s of %(amount)s requested: finance will review it.")
                % {"no": payout.payout_no, "amount": yuan(payout.amount)},
            )
            return redirect("admin:settlement_payout_change", payout.pk)

        return service_form_view(
            self,
            request,
            form=form,
            perform=request_payout,
            template="admin/settlement/payout/request.html",
            title=_("Request a payout"),
            context={
                "merchant": merchant,
                "available": yuan(available),
                "in_debt": available < 0,
                "minimum": yuan(settings.KPAY_PAYOUT_MIN),
                "maximum": yuan(settings.KPAY_PAYOUT_MAX),
            },
        )

    def decision_view(self, request, payout_id, action):
        if action not in PAYOUT_DECISIONS:
            raise Http404
        payout = self.get_queryset(request).filter(pk=payout_id).select_related("merchant").first()
        if payout is None:
            raise Http404
        if not self._may_decide(request):
            raise PermissionDenied
        service, label, _statuses, note_required = PAYOUT_DECISIONS[action]

        def decide(data):
            arguments = {"payout_id": payout.pk, "by": request.user, "note": data["note"]}
            if action == "pay":
                arguments["reference"] = data["reference"]
            decided = service(**arguments)
            messages.success(
                request,
                _("Payout %(no)s is now %(status)s.")
                % {"no": decided.payout_no, "status": decided.get_status_display()},
            )
            return redirect("admin:settlement_payout_change", decided.pk)

        return service_form_view(
            self,
            request,
            form=PayoutDecisionForm(
                request.POST or None, needs_reference=action == "pay", note_required=note_required
            ),
            perform=decide,
            template="admin/settlement/payout/decide.html",
            title=_("%(action)s: payout %(no)s") % {"action": label, "no": payout.payout_no},
            context={
                "action_label": label,
                "payout": payout,
                "amount": yuan(payout.amount),
                "account_number": payout.account_number
                if self._may_see_accounts(request)
                else mask(payout.account_last4),
            },
        )


# -- dashboard ------------------------------------------------------------------------
DASHBOARD_DAYS = 30
DASHBOARD_SERIES = (
    ("gross_sales", _("Paid"), "#417690"),
    ("refunds", _("Refunds"), "#c47a1b"),
    ("commission", _("Commission (net of refunds)"), "#5b8a3c"),
    ("settled", _("Net settled to available"), "#6f4a8e"),
)


# The dashboard shows no day before this (nor after today): a date typed into the
# address never reaches the database as an impossible or overflowing range.
DASHBOARD_FIRST_DAY = date(2000, 1, 1)


def _dashboard_last_day(raw: str, *, today: date) -> date:
    """The ``end`` query parameter as a day within [2000-01-01 + 29 days, today];
    anything unreadable (``2026-02-30``, ``garbage``) means today."""
    try:
        day = parse_date(raw or "") or today
    except ValueError:
        day = today
    return max(min(day, today), DASHBOARD_FIRST_DAY + timedelta(days=DASHBOARD_DAYS - 1))


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    """The last 30 days from the journal, by local day: paid, refunds, commission and
    net settled, as charts and a table. Platform staff see every merchant (or one);
    merchant staff see their own figures. One grouped query."""

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]

    def has_view_permission(self, request, obj=None):
        return permissions.may_view_finance(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        last_day = _dashboard_last_day(request.GET.get("end", ""), today=today)
        first_day = last_day - timedelta(days=DASHBOARD_DAYS - 1)
        merchant, merchants = _dashboard_merchant(request)
        figures = selectors.dashboard_figures(
            first_day=first_day, last_day=last_day, merchant_id=None if merchant is None else merchant.pk
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Finance dashboard"),
            "merchant": merchant,
            "merchants": merchants,
            "merchant_options": _merchant_options(merchants, merchant),
            "first_day": first_day,
            "last_day": last_day,
            "previous_end": first_day - timedelta(days=1),
            "next_end": last_day + timedelta(days=DASHBOARD_DAYS) if last_day < today else None,
            **_dashboard_charts_and_table(figures["days"], figures["totals"]),
            # The platform's promotions (platform staff only): to date, not per merchant.
            "promotions": None if merchants is None else selectors.platform_promotion_figures(),
            "membership_months": _membership_rows(
                selectors.membership_months(
                    last_day=last_day, merchant_id=None if merchant is None else merchant.pk
                )
            ),
        }
        return TemplateResponse(request, "admin/settlement/dashboard.html", context)


def _membership_rows(months: list[dict]) -> list[dict]:
    """Membership figures by month, newest first, amounts in yuan for the table."""
    return [
        {
            "month": month["month"],
            "orders": month["orders"],
            "paid": yuan_html(month["paid"]),
            "refunds": yuan_html(month["refunds"]),
            "net": yuan_html(month["net"]),
            "active_members": month["active_members"],
            "churned": month["churned"],
            "churn_rate": "-" if month["churn_rate"] is None else f"{month['churn_rate']}%",
        }
        for month in reversed(months)
    ]


def _dashboard_merchant(request) -> tuple[Merchant | None, list[Merchant] | None]:
    """Whose figures the page shows, and the merchants to choose from: merchant staff
    their own (no choice); platform staff the one chosen, or all (None)."""
    own = user_merchant(request.user)
    if own is not None:
        return own, None
    merchants = selectors.dashboard_merchants()
    chosen = request.GET.get("merchant", "")
    return next((m for m in merchants if str(m.pk) == chosen), None), merchants


def _dashboard_charts_and_table(days: list[dict], totals: dict) -> dict:
    """The figures as the page shows them: a chart a series, a table row a day."""
    rows = [
        {
            "day": day["day"],
            "orders": day["order_count"],
            "cells": [yuan_html(day[name]) for name in _DASHBOARD_COLUMNS],
        }
        for day in reversed(days)
    ]
    return {
        "charts": [
            (
                label,
                yuan(totals[name]),
                charts.bar_chart(
                    title=str(label),
                    days=[day["day"] for day in days],
                    values=[day[name] for day in days],
                    color=color,
                ),
            )
            for name, label, color in DASHBOARD_SERIES
        ],
        "rows": rows,
        "rows_html": _dashboard_rows(rows),
        "totals": [yuan_html(totals[name]) for name in _DASHBOARD_COLUMNS],
        "total_orders": totals["order_count"],
        "columns": [label for _name, label in _DASHBOARD_COLUMN_LABELS],
    }


def _dashboard_rows(rows: list[dict]) -> SafeString:
    """The table's rows, written here rather than by a template loop of 30 rows of 9
    cells (the same markup: each amount escaped as ``{{ cell }}`` would; half of the
    page's template time went to that loop)."""
    cell = '<td style="text-align:right">{}</td>'.format
    return SafeString(
        "".join(
            f"<tr><td>{row['day']:%Y-%m-%d}</td><td>{int(row['orders'])}</td>"
            + "".join(cell(conditional_escape(value)) for value in row["cells"])
            + "</tr>"
            for row in rows
        )
    )


def _merchant_options(merchants: list[Merchant] | None, chosen: Merchant | None) -> SafeString:
    """The merchant picker's options (platform staff), as the template wrote them."""
    if merchants is None:
        return SafeString("")
    return SafeString(
        "".join(
            f'<option value="{m.pk}"{" selected" if chosen is not None and m.pk == chosen.pk else ""}>'
            f"{conditional_escape(m.name)}</option>"
            for m in merchants
        )
    )


_DASHBOARD_COLUMN_LABELS = (
    ("gross_sales", _("paid")),
    ("refunds", _("refunds")),
    ("commission", _("commission")),
    ("promoter_commission", _("promoter commission")),
    ("gateway_fees", _("gateway fees")),
    ("net", _("net")),
    ("settled", _("settled to available")),
)
_DASHBOARD_COLUMNS = [name for name, _label in _DASHBOARD_COLUMN_LABELS]


# -- work queues on the home page -----------------------------------------------------------
@register_work_queue(order=30)
def payouts_to_approve(request):
    if not permissions.may_decide_payouts(request.user):
        return None
    return WorkQueue(
        label=_("Payouts to approve"),
        count=selectors.payouts_in_status(Payout.Status.REQUESTED).count(),
        url=reverse("admin:settlement_payout_changelist") + "?status__exact=requested",
        hint=_("Approve or reject each merchant's withdrawal."),
    )


@register_work_queue(order=31)
def payouts_to_pay(request):
    if not permissions.may_decide_payouts(request.user):
        return None
    return WorkQueue(
        label=_("Payouts to transfer"),
        count=selectors.payouts_in_status(Payout.Status.APPROVED).count(),
        url=reverse("admin:settlement_payout_changelist") + "?status__exact=approved",
        hint=_("Make the bank transfer, then mark it paid (not the one who approved it)."),
    )


@register_work_queue(order=32)
def own_available_balance(request):
    """A merchant's staff: what they may withdraw now."""
    merchant = user_merchant(request.user)
    if merchant is None or not permissions.may_request_payout(request.user, merchant_id=merchant.pk):
        return None
    available = ledger.merchant_available_balance(merchant.pk)
    return WorkQueue(
        label=_("Your payouts in progress"),
        count=selectors.payouts_in_status(*Payout.IN_FLIGHT_STATUSES, merchant_id=merchant.pk).count(),
        url=reverse("admin:settlement_payout_changelist"),
        hint=_("Available to withdraw now: %(available)s.") % {"available": yuan(available)},
    )
