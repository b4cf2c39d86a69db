"""Payments, refunds, gateway traffic and the journal in the back office: all read-only.

Payments and refunds change state through services only (the pages below that call them
are built on ``core.admin.service_form_view``); gateway events and exchanges are records
of what happened; journal entries are append-only (corrections are new entries). The
order's page gains its payments, refunds and "Refund this order" by subclassing
``OrderAdmin`` and registering the subclass in its place.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from core.admin import (
    NUMBER_SEARCH_HELP,
    CsvExportMixin,
    NumberSearchMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    StatusHistoryInline,
    WorkQueue,
    admin_link,
    csv_yuan,
    pretty_json,
    register_work_queue,
    risk_assessment_html,
    service_form_view,
    yuan,
    yuan_column,
)
from core.money import YuanField
from courses import permissions
from courses.admin_scope import MerchantScopedAdminMixin, merchant_list_filter
from courses.models import Merchant
from courses.roles import is_platform_staff, user_merchant
from orders.admin import OrderAdmin
from orders.models import Order

from . import selectors, services
from .gateways import channel_label, known_channels
from .ledger import accounts
from .models import (
    GatewayEvent,
    GatewayExchange,
    JournalEntry,
    Payment,
    PaymentStatusChange,
    Refund,
    RefundStatusChange,
)


class FlaggedFilter(admin.SimpleListFilter):
    """Payments staff must look at (``flag`` says why)."""

    title = _("flagged")
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", _("Flagged")), ("no", _("Not flagged"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(flag="")
        if self.value() == "no":
            return queryset.filter(flag="")
        return queryset


_MERCHANT_ACCOUNTS = {
    "pending": _("%(merchant)s: pending (refund window)"),
    "available": _("%(merchant)s: available"),
    "payouts": _("%(merchant)s: payouts in flight"),
    "paid_out": _("%(merchant)s: paid out"),
}
_PLATFORM_ACCOUNTS = {
    accounts.PLATFORM_COMMISSION: _("Platform: commission"),
    accounts.PLATFORM_GATEWAY_FEES: _("Platform: gateway fees"),
    accounts.UNAPPLIED_RECEIPTS: _("Platform: received for no order, owed back"),
    accounts.PLATFORM_PROMOTIONS: _("Platform: promotions"),
    accounts.POINTS_LIABILITY: _("Platform: points learners hold"),
    accounts.POINTS_EXPENSE: _("Platform: points given"),
}


def account_label(name: str, merchant=None) -> str:
    """A journal account in words: "Demo Studio: available", "Gateway clearing: WeChat Pay".
    ``merchant`` names a merchant account of that merchant (else it is "merchant #id")."""
    if name in _PLATFORM_ACCOUNTS:
        return str(_PLATFORM_ACCOUNTS[name])
    kind, _sep, rest = name.partition(":")
    if kind == "gateway_clearing":
        return _("Gateway clearing: %(channel)s") % {"channel": channel_label(rest)}
    if kind == "merchant":
        merchant_id, _sep, which = rest.partition(":")
        if which in _MERCHANT_ACCOUNTS:
            shown = merchant.name if merchant is not None and str(merchant.pk) == merchant_id else None
            return _MERCHANT_ACCOUNTS[which] % {
                "merchant": shown or _("merchant #%(id)s") % {"id": merchant_id}
            }
    return name


class ChannelFilter(admin.SimpleListFilter):
    title = _("channel")
    parameter_name = "channel"

    def lookups(self, request, model_admin):
        """The configured channels (not a ``DISTINCT`` over millions of payments)."""
        return sorted(
            ((channel, channel_label(channel)) for channel in known_channels()), key=lambda c: str(c[1])
        )

    def queryset(self, request, queryset):
        return queryset.filter(channel=self.value()) if self.value() else queryset


def _channel(payment) -> str:
    return channel_label(payment.channel)


class PaymentInline(ReadOnlyInline):
    """The order's payment attempts, on the order's page."""

    model = Payment
    fields = ("payment", "channel_shown", "status", "amount_shown", "created_at", "succeeded_at", "flag")
    verbose_name_plural = _("payments")

    @admin.display(description=_("payment"))
    def payment(self, payment):
        return admin_link(payment)

    @admin.display(description=_("channel"))
    def channel_shown(self, payment):
        return _channel(payment)

    amount_shown = yuan_column("amount", _("amount"))


class PaymentStatusChangeInline(StatusHistoryInline):
    model = PaymentStatusChange


class GatewayEventInline(ReadOnlyInline):
    """The gateway's notifications about this payment (shown to who may view events)."""

    model = GatewayEvent
    fields = ("event", "event_type", "outcome", "detail", "received_at")
    verbose_name_plural = _("gateway notifications")

    @admin.display(description=_("event"))
    def event(self, event):
        return admin_link(event, event.event_id)


class UnappliedReturnForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=255, widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Payment)
class PaymentAdmin(NumberSearchMixin, ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """Payments, read-only; an unapplied one can be returned to its payer ("Return to
    payer", through ``services.refund_unapplied``)."""

    merchant_field = "merchant"
    change_form_template = "admin/payments/payment/change_form.html"
    list_display = (
        "payment_no",
        "order_link",
        "merchant",
        "channel_shown",
        "status",
        "amount_shown",
        "flag",
        "created_at",
    )
    list_filter = (
        "status",
        ChannelFilter,
        FlaggedFilter,
        merchant_list_filter(),
    )
    list_select_related = ("order", "merchant")
    list_defer = ("action", "risk_assessment", "order__lines", "order__risk_assessment")
    list_only = (
        "payment_no",
        "order__order_no",
        "merchant__name",
        "channel",
        "status",
        "amount",
        "flag",
        "created_at",
    )
    number_search_fields = ("payment_no", "gateway_txn_id", "order__order_no")
    search_fields = ("payer_id", "flag")
    search_help_text = NUMBER_SEARCH_HELP
    ordering = ("-created_at", "-pk")
    fields = (
        ("payment_no", "status"),
        ("order_link", "merchant"),
        ("channel_shown", "gateway"),
        ("amount_shown", "currency"),
        ("gateway_txn_id", "payer_id"),
        ("refunded_shown", "reserved_shown"),
        "flag",
        "action_json",
        "risk_json",
        ("created_at", "expires_at", "succeeded_at", "closed_at"),
    )
    readonly_fields = (
        "payment_no",
        "status",
        "order_link",
        "merchant",
        "channel_shown",
        "gateway",
        "amount_shown",
        "currency",
        "gateway_txn_id",
        "payer_id",
        "refunded_shown",
        "reserved_shown",
        "flag",
        "action_json",
        "risk_json",
        "created_at",
        "expires_at",
        "succeeded_at",
        "closed_at",
    )
    inlines = [PaymentStatusChangeInline, GatewayEventInline]

    @admin.display(description=_("order"), ordering="order__order_no")
    def order_link(self, payment):
        return admin_link(payment.order)

    amount_shown = yuan_column("amount", _("amount"))
    refunded_shown = yuan_column("refunded_amount", _("refunded"))
    reserved_shown = yuan_column("refund_reserved", _("refunds in flight"))

    @admin.display(description=_("channel"), ordering="channel")
    def channel_shown(self, payment):
        return _channel(payment)

    @admin.display(description=_("what the payer was given"))
    def action_json(self, payment):
        return pretty_json(payment.action)

    @admin.display(description=_("risk assessment when paid"))
    def risk_json(self, payment):
        return risk_assessment_html(payment.risk_assessment)

    # -- returning an unapplied payment ---------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:payment_id>/return/", wrap(self.return_view), name="payments_payment_return"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        payment = self.get_object(request, object_id)
        tools = []
        if (
            payment is not None
            and services.unapplied_returnable(payment)
            and permissions.may_return_unapplied(request.user)
        ):
            tools.append((reverse("admin:payments_payment_return", args=[payment.pk]), _("Return to payer")))
        extra_context["payment_tools"] = tools
        return super().change_view(request, object_id, form_url, extra_context)

    def return_view(self, request, payment_id):
        payment = self.get_queryset(request).filter(pk=payment_id).first()
        if payment is None:
            raise Http404
        if not permissions.may_return_unapplied(request.user):
            raise PermissionDenied

        def perform(data):
            refund = services.refund_unapplied(
                actor=request.user, payment_id=payment.pk, reason=data["reason"]
            )
            return _refund_changed(request, refund)

        return service_form_view(
            self,
            request,
            form=UnappliedReturnForm(request.POST or None),
            perform=perform,
            template="admin/payments/payment/return.html",
            title=_("Return payment %(payment_no)s to its payer") % {"payment_no": payment.payment_no},
            context={
                "payment": payment,
                "returnable": services.unapplied_returnable(payment),
                "amount": yuan(payment.amount),
                "needs_two": services.refund_needs_two_approvals(payment.amount),
            },
        )


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = None  # platform staff only
    list_display = (
        "received_at",
        "gateway",
        "event_type",
        "outcome",
        "trade_no",
        "payment_link",
        "event_id",
    )
    list_filter = ("gateway", "outcome", "event_type")
    list_select_related = ("payment",)
    search_fields = ("event_id", "trade_no", "payment__payment_no")
    fields = (
        ("gateway", "event_id"),
        ("event_type", "trade_no"),
        "payment_link",
        ("outcome", "detail"),
        "received_at",
        "payload_json",
    )
    readonly_fields = (
        "gateway",
        "event_id",
        "event_type",
        "trade_no",
        "payment_link",
        "outcome",
        "detail",
        "received_at",
        "payload_json",
    )

    @admin.display(description=_("payment"), ordering="payment__payment_no")
    def payment_link(self, event):
        return admin_link(event.payment)

    @admin.display(description=_("payload (verified)"))
    def payload_json(self, event):
        return pretty_json(event.payload)


@admin.register(GatewayExchange)
class GatewayExchangeAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """Calls to gateways; bodies are stored with signatures and ciphertexts redacted."""

    merchant_field = None  # platform staff only
    list_display = (
        "created_at",
        "gateway",
        "operation",
        "method",
        "status_code",
        "trade_no",
        "duration_ms",
        "error",
    )
    list_filter = ("gateway", "operation", "status_code")
    search_fields = ("trade_no", "url")
    fields = (
        ("gateway", "operation", "trade_no"),
        ("method", "url"),
        ("status_code", "duration_ms", "created_at"),
        "error",
        "request_body",
        "response_body",
    )
    readonly_fields = (
        "gateway",
        "operation",
        "trade_no",
        "method",
        "url",
        "status_code",
        "duration_ms",
        "created_at",
        "error",
        "request_body",
        "response_body",
    )


class AccountFilter(admin.SimpleListFilter):
    """Entries touching one account, on either side."""

    title = _("account")
    parameter_name = "account"

    def lookups(self, request, model_admin):
        """The accounts there can be (not a ``DISTINCT`` over millions of entries): the
        platform's, each configured channel's clearing, and the merchant accounts of the
        merchant chosen in the merchant filter (merchant staff: their own)."""
        names = [*_PLATFORM_ACCOUNTS, *(accounts.gateway_clearing(channel) for channel in known_channels())]
        merchant = user_merchant(request.user)
        if merchant is None and is_platform_staff(request.user):
            chosen = request.GET.get("merchant__id__exact", "")
            merchant = Merchant.objects.filter(pk=chosen).first() if chosen.isdigit() else None
        if merchant is not None:
            names += [
                account(merchant.pk)
                for account in (
                    accounts.merchant_pending,
                    accounts.merchant_available,
                    accounts.merchant_payouts,
                    accounts.merchant_paid_out,
                )
            ]
        return [(name, account_label(name, merchant)) for name in sorted(names)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(Q(debit_account=self.value()) | Q(credit_account=self.value()))
        return queryset


@admin.register(JournalEntry)
class JournalEntryAdmin(
    NumberSearchMixin, CsvExportMixin, ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin
):
    """The journal (交易流水). Append-only: nobody adds, changes or deletes rows here."""

    csv_filename = "journal"
    csv_columns = [
        ("entry", "pk"),
        ("posting_id", "posting_id"),
        ("created_at", "created_at"),
        ("kind", "kind"),
        ("debit_account", "debit_account"),
        ("credit_account", "credit_account"),
        ("amount_yuan", lambda entry: csv_yuan(entry.amount)),
        ("currency", "currency"),
        ("merchant_id", "merchant_id"),
        ("order_no", "order__order_no"),
        ("payment_no", "payment__payment_no"),
        ("refund_no", "refund__refund_no"),
        ("reference", "reference"),
        ("memo", "memo"),
    ]

    list_display = (
        "posting_id",
        "kind",
        "debit",
        "credit",
        "amount_shown",
        "order_link",
        "created_at",
    )
    list_filter = ("kind", merchant_list_filter(), AccountFilter)
    list_select_related = ("order", "payment", "refund", "merchant")
    list_defer = (
        "order__lines",
        "order__risk_assessment",
        "payment__action",
        "payment__risk_assessment",
    )
    list_only = (
        "posting_id",
        "kind",
        "debit_account",
        "credit_account",
        "merchant__name",
        "amount",
        "order__order_no",
        "created_at",
    )
    number_search_fields = ("posting_id", "order__order_no", "payment__payment_no", "refund__refund_no")
    search_fields = ("reference", "memo")
    search_help_text = NUMBER_SEARCH_HELP
    ordering = ("-created_at", "-pk")
    fields = (
        ("posting_id", "kind"),
        ("debit", "credit"),
        ("amount_shown", "currency"),
        ("merchant", "order_link", "payment_link"),
        "memo",
        "created_at",
    )
    readonly_fields = (
        "posting_id",
        "kind",
        "debit",
        "credit",
        "amount_shown",
        "currency",
        "merchant",
        "order_link",
        "payment_link",
        "memo",
        "created_at",
    )

    amount_shown = yuan_column("amount", _("amount"))

    @admin.display(description=_("debit account"), ordering="debit_account")
    def debit(self, entry):
        return account_label(entry.debit_account, entry.merchant)

    @admin.display(description=_("credit account"), ordering="credit_account")
    def credit(self, entry):
        return account_label(entry.credit_account, entry.merchant)

    @admin.display(description=_("order"), ordering="order__order_no")
    def order_link(self, entry):
        return admin_link(entry.order)

    @admin.display(description=_("payment"))
    def payment_link(self, entry):
        return admin_link(entry.payment)


# -- work queues on the home page ---------------------------------------------------
@register_work_queue(order=10)
def refunds_to_approve(request):
    """Refunds waiting for a decision, for who may approve refunds (their merchant's only
    for merchant staff: the refund list is scoped the same way)."""
    if not permissions.may_approve_refund(request.user):
        return None
    refund_admin = admin.site.get_model_admin(Refund)
    waiting = refund_admin.get_queryset(request).filter(status=Refund.Status.REQUESTED)
    return WorkQueue(
        label=_("Refunds to approve"),
        count=waiting.count(),
        url=reverse("admin:payments_refund_changelist") + "?status__exact=requested",
        hint=_("Approve or deny each; above the threshold a second person approves."),
    )


@register_work_queue(order=20)
def flagged_payments(request):
    """Payments flagged for staff (duplicates, mismatches), for platform staff who see payments."""
    payment_admin = admin.site.get_model_admin(Payment)
    if not (payment_admin.has_view_permission(request) and is_platform_staff(request.user)):
        return None
    return WorkQueue(
        label=_("Flagged payments"),
        count=payment_admin.get_queryset(request).exclude(flag="").count(),
        url=reverse("admin:payments_payment_changelist") + "?flagged=yes",
        hint=_("Money received for no order, or answers that did not match."),
    )


# -- refunds ------------------------------------------------------------------------
class RefundInline(ReadOnlyInline):
    """The order's refunds, on the order's page."""

    model = Refund
    fields = ("refund", "status", "amount_shown", "origin", "requested_by", "reason", "created_at")
    verbose_name_plural = _("refunds")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requested_by")

    @admin.display(description=_("refund"))
    def refund(self, refund):
        return admin_link(refund)

    amount_shown = yuan_column("amount", _("amount"))


admin.site.unregister(Order)


@admin.register(Order)
class PaymentsOrderAdmin(OrderAdmin):
    """The order's page with its payment attempts and refunds, and "Refund this order"
    for who may use it."""

    inlines = [*OrderAdmin.inlines, PaymentInline, RefundInline]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        order = self.get_object(request, object_id)
        if order is not None:
            extra_context["extra_object_tools"] = self.object_tools_for(request, order)
        return super().change_view(request, object_id, form_url, extra_context)

    def object_tools_for(self, request, order) -> list[tuple[str, str]]:
        """The (url, label) of the buttons ``request.user`` may use on ``order``'s page."""
        if order.status not in order.REFUNDABLE_STATUSES:
            return []
        if not permissions.may_issue_refund(request.user, merchant_id=order.merchant_id):
            return []
        return [(reverse("admin:payments_refund_issue", args=[order.pk]), _("Refund this order"))]


def _refund_changed(request, refund):
    """After a service changed ``refund``: say where it stands and show it."""
    refund.refresh_from_db()
    messages.success(
        request, _("Refund %(no)s is now %(status)s.") % {"no": refund, "status": refund.get_status_display()}
    )
    return redirect("admin:payments_refund_change", refund.pk)


class RefundStatusChangeInline(StatusHistoryInline):
    model = RefundStatusChange


class RefundIssueForm(forms.Form):
    amount = YuanField(
        label=_("amount"),
        required=False,
        min_fen=1,
        max_digits=12,
        help_text=_("Leave empty to refund everything that is left."),
    )
    reason = forms.CharField(label=_("reason"), max_length=255, widget=forms.Textarea(attrs={"rows": 3}))


class RefundDecisionForm(forms.Form):
    note = forms.CharField(
        label=_("note"), max_length=255, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, note_required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].required = note_required


# action -> (service, label, whether a note is required)
REFUND_DECISIONS = {
    "approve": (services.refund_approve, _("Approve the refund"), False),
    "deny": (services.refund_deny, _("Deny the refund"), True),
    "retry": (services.refund_retry, _("Send the refund to the gateway again"), False),
}


@admin.register(Refund)
class RefundAdmin(NumberSearchMixin, ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """The refund queue (filter by status). Refunds change only through the services:
    the approve, deny and retry pages, and "Refund this order" on an order's page."""

    merchant_field = "merchant"
    change_form_template = "admin/payments/refund/change_form.html"
    list_display = (
        "refund_no",
        "order_link",
        "merchant",
        "status",
        "amount_shown",
        "origin",
        "requested_by",
        "approvals",
        "created_at",
    )
    list_filter = ("status", "origin", merchant_list_filter())
    list_select_related = ("order", "merchant", "requested_by", "first_approved_by", "approved_by")
    list_defer = ("order__lines", "order__risk_assessment")
    list_only = (
        "refund_no",
        "order__order_no",
        "merchant__name",
        "status",
        "amount",
        "origin",
        "requested_by__username",
        "first_approved_by__username",
        "approved_by__username",
        "created_at",
    )
    number_search_fields = ("refund_no", "gateway_refund_id", "order__order_no", "payment__payment_no")
    search_fields = ("reason",)
    search_help_text = NUMBER_SEARCH_HELP
    ordering = ("-created_at", "-pk")
    fields = (
        ("refund_no", "status"),
        ("order_link", "payment_link", "merchant"),
        ("amount_shown", "currency", "origin"),
        "reason",
        ("requested_by", "created_at"),
        ("first_approved_by", "approved_by"),
        ("decided_by", "decided_at", "decision_note"),
        ("gateway_refund_id", "attempts", "submitted_at"),
        ("succeeded_at", "failed_at", "failure_message"),
    )
    readonly_fields = (
        "refund_no",
        "status",
        "order_link",
        "payment_link",
        "merchant",
        "amount_shown",
        "currency",
        "origin",
        "reason",
        "requested_by",
        "created_at",
        "first_approved_by",
        "approved_by",
        "decided_by",
        "decided_at",
        "decision_note",
        "gateway_refund_id",
        "attempts",
        "submitted_at",
        "succeeded_at",
        "failed_at",
        "failure_message",
    )
    inlines = [RefundStatusChangeInline]

    @admin.display(description=_("order"), ordering="order__order_no")
    def order_link(self, refund):
        return admin_link(refund.order)

    @admin.display(description=_("payment"))
    def payment_link(self, refund):
        return admin_link(refund.payment)

    amount_shown = yuan_column("amount", _("amount"))

    @admin.display(description=_("approvals"))
    def approvals(self, refund):
        names = [str(u) for u in (refund.first_approved_by, refund.approved_by) if u is not None]
        return ", ".join(names) or "-"

    # -- pages that call the services ---------------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("issue/<int:order_id>/", wrap(self.issue_view), name="payments_refund_issue"),
            path(
                "<int:refund_id>/decide/<str:action>/",
                wrap(self.decision_view),
                name="payments_refund_decide",
            ),
            *super().get_urls(),
        ]

    def decisions_for(self, request, refund) -> list[tuple[str, str]]:
        """The (url, label) of each decision ``request.user`` may take on ``refund`` now."""
        if not permissions.may_approve_refund(request.user, merchant_id=refund.merchant_id):
            return []
        wanted = {Refund.Status.REQUESTED: ("approve", "deny"), Refund.Status.FAILED: ("retry",)}
        actions = wanted.get(refund.status, ())
        if refund.first_approved_by_id == request.user.pk:
            actions = [action for action in actions if action != "approve"]  # four eyes: someone else
        return [
            (reverse("admin:payments_refund_decide", args=[refund.pk, action]), REFUND_DECISIONS[action][1])
            for action in actions
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        refund = self.get_object(request, object_id)
        if refund is not None:
            extra_context["refund_decisions"] = self.decisions_for(request, refund)
        return super().change_view(request, object_id, form_url, extra_context)

    def decision_view(self, request, refund_id, action):
        if action not in REFUND_DECISIONS:
            raise Http404
        refund = self.get_queryset(request).filter(pk=refund_id).first()
        if refund is None:
            raise Http404
        if not permissions.may_approve_refund(request.user, merchant_id=refund.merchant_id):
            raise PermissionDenied
        service, label, note_required = REFUND_DECISIONS[action]

        def perform(data):
            service(actor=request.user, refund_id=refund.pk, note=data["note"])
            return _refund_changed(request, refund)

        return service_form_view(
            self,
            request,
            form=RefundDecisionForm(request.POST or None, note_required=note_required),
            perform=perform,
            template="admin/payments/refund/decide.html",
            title=label,
            context={
                "refund": refund,
                "action": action,
                "needs_two": refund.first_approved_by_id is not None
                or services.refund_needs_two_approvals(
                    refund.amount, signer=request.user, order_id=refund.order_id, refund_id=refund.pk
                ),
            },
        )

    def issue_view(self, request, order_id):
        order_admin = self.admin_site.get_model_admin(Order)
        order = order_admin.get_queryset(request).filter(pk=order_id).first()
        if order is None:
            raise Http404
        if not permissions.may_issue_refund(request.user, merchant_id=order.merchant_id):
            raise PermissionDenied

        def perform(data):
            refund = services.refund_issue(
                actor=request.user, order_id=order.pk, amount=data["amount"], reason=data["reason"]
            )
            return _refund_changed(request, refund)

        payment = selectors.payment_succeeded_for_order(order=order)
        return service_form_view(
            self,
            request,
            form=RefundIssueForm(request.POST or None),
            perform=perform,
            template="admin/payments/refund/issue.html",
            title=_("Refund order %(order_no)s") % {"order_no": order.order_no},
            context={
                "order": order,
                "payment": payment,
                "refundable": yuan(payment.refundable_amount) if payment else "-",
                "threshold": yuan(services.refund_approval_threshold()),
                "signed": yuan(selectors.refund_amount_signed_by(user_id=request.user.pk, order_id=order.pk)),
            },
        )
