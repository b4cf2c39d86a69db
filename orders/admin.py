"""Orders in the back office: read-only. Orders change state only through services."""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin import (
    NUMBER_SEARCH_HELP,
    NumberSearchMixin,
    ReadOnlyAdminMixin,
    StatusHistoryInline,
    risk_assessment_html,
    yuan,
    yuan_column,
)
from courses.admin_scope import MerchantScopedAdminMixin, merchant_list_filter

from .models import Order, OrderStatusChange


class OrderStatusChangeInline(StatusHistoryInline):
    model = OrderStatusChange


@admin.register(Order)
class OrderAdmin(NumberSearchMixin, ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """An order, its lines and history. Apps downstream of orders extend this page by
    subclassing and re-registering (payments adds payments, refunds and "Refund this
    order"; the template shows ``extra_object_tools`` from the context), so orders never
    imports them."""

    list_display = ("order_no", "learner", "merchant", "status", "total_shown", "created_at")
    list_filter = (
        "status",
        merchant_list_filter(),
        ("promoter_id", admin.EmptyFieldListFilter),  # referred orders (分销)
        "created_at",
    )
    list_select_related = ("learner", "merchant")
    list_defer = ("lines", "risk_assessment")
    list_only = ("order_no", "learner__username", "merchant__name", "status", "total", "created_at")
    number_search_fields = ("order_no", "learner__username")
    search_fields = ("learner__username",)
    search_help_text = NUMBER_SEARCH_HELP
    ordering = ("-created_at", "-pk")
    fields = (
        ("order_no", "status"),
        ("learner", "merchant"),
        "lines_table",
        ("subtotal_shown", "discount_shown", "points_used", "points_shown", "total_shown", "currency"),
        ("created_at", "expires_at"),
        ("paid_at", "fulfilled_at", "completed_at", "closed_at"),
        ("refunded_shown", "refunded_at"),
        ("client_ip", "device_id"),
        "referred_by",
        "risk",
    )
    readonly_fields = (
        "order_no",
        "status",
        "learner",
        "merchant",
        "lines_table",
        "subtotal_shown",
        "discount_shown",
        "points_used",
        "points_shown",
        "total_shown",
        "currency",
        "created_at",
        "expires_at",
        "paid_at",
        "fulfilled_at",
        "completed_at",
        "closed_at",
        "refunded_shown",
        "refunded_at",
        "client_ip",
        "device_id",
        "referred_by",
        "risk",
    )
    inlines = [OrderStatusChangeInline]

    total_shown = yuan_column("total", _("total"))
    refunded_shown = yuan_column("refunded_amount", _("refunded"))
    subtotal_shown = yuan_column("subtotal", _("subtotal"))
    discount_shown = yuan_column("discount", _("discount"))
    points_shown = yuan_column("points_discount", _("paid with points"))

    @admin.display(description=_("lines"))
    def lines_table(self, order):
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td class="kpay-money">{}</td><td>{}</td><td class="kpay-money">{}</td></tr>',
            (
                (line.title, yuan(line.unit_price), line.quantity, yuan(line.amount))
                for line in order.line_items
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("course"),
            _("unit price"),
            _("quantity"),
            _("amount"),
            rows,
        )

    @admin.display(description=_("referred by promoter"))
    def referred_by(self, order):
        """The promoter (分销) of ``Order.promoter_id``, linked to their page when an app
        above (promoters) registers one; orders never imports it."""
        if order.promoter_id is None:
            return "-"
        try:
            url = reverse("admin:promoters_promoter_change", args=[order.promoter_id])
        except NoReverseMatch:
            return str(order.promoter_id)
        return format_html('<a href="{}">{}</a>', url, _("promoter %(id)s") % {"id": order.promoter_id})

    @admin.display(description=_("checkout risk assessment"))
    def risk(self, order):
        """The assessment stored with the order: what was assessed, each rule's verdict in
        words, the decision."""
        return risk_assessment_html(order.risk_assessment)
