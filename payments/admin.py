"""Payments, gateway traffic and the journal in the back office: all read-only.

Payments change state through services; gateway events and exchanges are records of
what happened; journal entries are append-only (corrections are new entries).
"""

from django.contrib import admin
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from courses.admin import (
    MerchantScopedAdminMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    admin_link,
    pretty_json,
    yuan,
)
from orders.admin import OrderAdmin

from .models import GatewayEvent, GatewayExchange, JournalEntry, Payment, PaymentStatusChange


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


if PaymentInline not in OrderAdmin.extra_inlines:
    OrderAdmin.extra_inlines.append(PaymentInline)


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


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = "order__merchant"
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
        "flag",
        "action_json",
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
        "flag",
        "action_json",
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
        entries = model_admin.get_queryset(request).order_by()
        accounts = set(entries.values_list("debit_account", flat=True).distinct())
        accounts |= set(entries.values_list("credit_account", flat=True).distinct())
        return [(account, account) for account in sorted(accounts)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(Q(debit_account=self.value()) | Q(credit_account=self.value()))
        return queryset


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """The journal (交易流水). Append-only: nobody adds, changes or deletes rows here."""

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
    list_select_related = ("order",)
    search_fields = ("posting_id", "order__order_no", "payment__payment_no", "memo")
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
