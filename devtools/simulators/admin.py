"""The simulated gateway's own books, to look at while developing (never in production:
this app is installed only when the sandbox is enabled). Read-only, platform staff."""

from django.contrib import admin

from core.admin import ReadOnlyAdminMixin, ReadOnlyInline
from courses.admin_scope import MerchantScopedAdminMixin

from .models import SimAgreement, SimChargeNotice, SimNotification, SimRefund, SimTrade


class SimRefundInline(ReadOnlyInline):
    model = SimRefund
    fields = ("out_refund_no", "refund_id", "amount", "status", "success_time", "created_at")


@admin.register(SimTrade)
class SimTradeAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = None  # platform staff only
    list_display = (
        "out_trade_no",
        "gateway",
        "merchant_id",
        "amount",
        "currency",
        "state",
        "refunded",
        "created_at",
    )
    list_filter = ("gateway", "state")
    search_fields = ("out_trade_no", "transaction_id")
    inlines = [SimRefundInline]


@admin.register(SimNotification)
class SimNotificationAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = None  # platform staff only
    list_display = (
        "event_id",
        "gateway",
        "attempts",
        "last_status",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    )
    list_filter = ("gateway", "last_status")
    search_fields = ("event_id",)


class SimChargeNoticeInline(ReadOnlyInline):
    model = SimChargeNotice
    fk_name = "agreement"
    fields = ("amount", "currency", "charge_date", "sent_on", "used_by", "created_at")


@admin.register(SimAgreement)
class SimAgreementAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = None  # platform staff only
    list_display = (
        "agreement_no",
        "agreement_id",
        "merchant_id",
        "state",
        "amount_limit",
        "terminated_by",
        "created_at",
    )
    list_filter = ("state", "terminated_by", "balance_short")
    search_fields = ("agreement_no", "agreement_id")
    exclude = ("token",)  # the payer's page
    inlines = [SimChargeNoticeInline]
