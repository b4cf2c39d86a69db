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
    CsvExportMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    admin_link,
    csv_yuan,
    pretty_json,
    service_form_view,
    yuan,
)
from core.money import YuanField
from courses import permissions
from courses.admin_scope import MerchantScopedAdminMixin
from orders.admin import OrderAdmin
from orders.models import Order

from . import selectors, services
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


class PaymentInline(ReadOnlyInline):
    """The order's payment attempts, on the order's page."""

    model = Payment
    fields = ("payment", "channel", "status", "amount_yuan", "created_at", "succeeded_at", "flag")
    verbose_name_plural = _("payments")

    @admin.display(description=_("payment"))
    def payment(self, payment):
        return admin_link(payment)

    @admin.display(description=_("amount (yuan)"))
    def amount_yuan(self, payment):
        return yuan(payment.amount)


class PaymentStatusChangeInline(ReadOnlyInline):
    model = PaymentStatusChange
    fields = ("from_status", "to_status", "transition", "actor", "reason", "created_at")
    verbose_name = _("status change")
    verbose_name_plural = _("status history")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


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
class PaymentAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """Payments, read-only; an unapplied one can be returned to its payer ("Return to
    payer", through ``services.refund_unapplied``)."""

    merchant_field = "order__merchant"
    change_form_template = "admin/payments/payment/change_form.html"
    list_display = (
        "payment_no",
        "order_link",
        "merchant",
        "channel",
        "status",
        "amount_yuan",
        "flag",
        "created_at",
    )
    list_filter = (
        "status",
        "channel",
        FlaggedFilter,
        ("order__merchant", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("order", "order__merchant")
    search_fields = ("payment_no", "gateway_txn_id", "order__order_no")
    ordering = ("-created_at", "-pk")
    fields = (
        ("payment_no", "status"),
        ("order_link", "merchant"),
        ("channel", "gateway"),
        ("amount_yuan", "currency"),
        ("gateway_txn_id", "payer_id"),
        ("refunded_amount", "refund_reserved"),
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
        "channel",
        "gateway",
        "amount_yuan",
        "currency",
        "gateway_txn_id",
        "payer_id",
        "refunded_amount",
        "refund_reserved",
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

    @admin.display(description=_("merchant"), ordering="order__merchant__name")
    def merchant(self, payment):
        return payment.order.merchant

    @admin.display(description=_("amount (yuan)"), ordering="amount")
    def amount_yuan(self, payment):
        return yuan(payment.amount)

    @admin.display(description=_("what the payer was given"))
    def action_json(self, payment):
        return pretty_json(payment.action)

    @admin.display(description=_("risk assessment when paid"))
    def risk_json(self, payment):
        return pretty_json(payment.risk_assessment)

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
        accounts = selectors.journal_accounts(entries=model_admin.get_queryset(request))
        return [(account, account) for account in accounts]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(Q(debit_account=self.value()) | Q(credit_account=self.value()))
        return queryset


@admin.register(JournalEntry)
class JournalEntryAdmin(CsvExportMixin, ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
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
        "debit_account",
        "credit_account",
        "amount_yuan",
        "order_link",
        "created_at",
    )
    list_filter = ("kind", AccountFilter, ("merchant", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("order", "payment", "refund")
    search_fields = ("posting_id", "order__order_no", "payment__payment_no", "reference", "memo")
    ordering = ("-created_at", "-pk")
    fields = (
        ("posting_id", "kind"),
        ("debit_account", "credit_account"),
        ("amount_yuan", "currency"),
        ("merchant", "order_link", "payment_link"),
        "memo",
        "created_at",
    )
    readonly_fields = (
        "posting_id",
        "kind",
        "debit_account",
        "credit_account",
        "amount_yuan",
        "currency",
        "merchant",
        "order_link",
        "payment_link",
        "memo",
        "created_at",
    )

    @admin.display(description=_("amount (yuan)"), ordering="amount")
    def amount_yuan(self, entry):
        return yuan(entry.amount)

    @admin.display(description=_("order"), ordering="order__order_no")
    def order_link(self, entry):
        return admin_link(entry.order)

    @admin.display(description=_("payment"))
    def payment_link(self, entry):
        return admin_link(entry.payment)


# -- refunds ------------------------------------------------------------------------
class RefundInline(ReadOnlyInline):
    """The order's refunds, on the order's page."""

    model = Refund
    fields = ("refund", "status", "amount_yuan", "origin", "requested_by", "reason", "created_at")
    verbose_name_plural = _("refunds")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requested_by")

    @admin.display(description=_("refund"))
    def refund(self, refund):
        return admin_link(refund)

    @admin.display(description=_("amount (yuan)"))
    def amount_yuan(self, refund):
        return yuan(refund.amount)


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


class RefundStatusChangeInline(ReadOnlyInline):
    model = RefundStatusChange
    fields = ("from_status", "to_status", "transition", "actor", "reason", "created_at")
    verbose_name = _("status change")
    verbose_name_plural = _("status history")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class RefundIssueForm(forms.Form):
    amount = YuanField(
        label=_("amount (yuan)"),
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
class RefundAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """The refund queue (filter by status). Refunds change only through the services:
    the approve, deny and retry pages, and "Refund this order" on an order's page."""

    merchant_field = "order__merchant"
    change_form_template = "admin/payments/refund/change_form.html"
    list_display = (
        "refund_no",
        "order_link",
        "merchant",
        "status",
        "amount_yuan",
        "origin",
        "requested_by",
        "approvals",
        "created_at",
    )
    list_filter = ("status", "origin", ("order__merchant", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("order", "order__merchant", "requested_by", "first_approved_by", "approved_by")
    search_fields = ("refund_no", "order__order_no", "payment__payment_no", "gateway_refund_id")
    ordering = ("-created_at", "-pk")
    fields = (
        ("refund_no", "status"),
        ("order_link", "payment_link", "merchant"),
        ("amount_yuan", "currency", "origin"),
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
        "amount_yuan",
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

    @admin.display(description=_("merchant"), ordering="order__merchant__name")
    def merchant(self, refund):
        return refund.order.merchant

    @admin.display(description=_("amount (yuan)"), ordering="amount")
    def amount_yuan(self, refund):
        return yuan(refund.amount)

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
        if not permissions.may_approve_refund(request.user, merchant_id=refund.order.merchant_id):
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
        if not permissions.may_approve_refund(request.user, merchant_id=refund.order.merchant_id):
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
