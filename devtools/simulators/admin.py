"""The simulated gateway's own books, to look at while developing (never in production:
this app is installed only when the sandbox is enabled). Read-only, platform staff."""

from django.contrib import admin

from core.admin import ReadOnlyAdminMixin, ReadOnlyInline
from courses.admin_scope import MerchantScopedAdminMixin

from .models import SimNotification, SimRefund, SimTrade


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
