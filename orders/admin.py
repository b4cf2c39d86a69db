"""Orders in the back office: read-only. Orders change state only through services."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdminMixin, ReadOnlyInline, pretty_json, yuan
from courses.admin_scope import MerchantScopedAdminMixin

from .models import Order, OrderStatusChange


class OrderStatusChangeInline(ReadOnlyInline):
    model = OrderStatusChange
    fields = ("from_status", "to_status", "transition", "actor", "reason", "created_at")
    verbose_name = _("status change")
    verbose_name_plural = _("status history")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """An order, its lines and history. Apps downstream of orders extend this page by
    subclassing and re-registering (payments adds payments, refunds and "Refund this
    order"; the template shows ``extra_object_tools`` from the context), so orders never
    imports them."""

    list_display = ("order_no", "learner", "merchant", "status", "total_yuan", "created_at")
    list_filter = ("status", ("merchant", admin.RelatedOnlyFieldListFilter), "created_at")
    list_select_related = ("learner", "merchant")
    search_fields = ("order_no", "learner__username")
    ordering = ("-created_at", "-pk")
    fields = (
        ("order_no", "status"),
        ("learner", "merchant"),
        "lines_table",
        ("subtotal_yuan", "discount_yuan", "points_used", "points_yuan", "total_yuan", "currency"),
        ("created_at", "expires_at"),
        ("paid_at", "fulfilled_at", "completed_at", "closed_at"),
        ("refunded_yuan", "refunded_at"),
        "risk",
    )
    readonly_fields = (
        "order_no",
        "status",
        "learner",
        "merchant",
        "lines_table",
        "subtotal_yuan",
        "discount_yuan",
        "points_used",
        "points_yuan",
        "total_yuan",
        "currency",
        "created_at",
        "expires_at",
        "paid_at",
        "fulfilled_at",
        "completed_at",
        "closed_at",
        "refunded_yuan",
        "refunded_at",
        "risk",
    )
    inlines = [OrderStatusChangeInline]

    @admin.display(description=_("total (yuan)"), ordering="total")
    def total_yuan(self, order):
        return yuan(order.total)

    @admin.display(description=_("refunded (yuan)"))
    def refunded_yuan(self, order):
        return yuan(order.refunded_amount)

    @admin.display(description=_("subtotal (yuan)"))
    def subtotal_yuan(self, order):
        return yuan(order.subtotal)

    @admin.display(description=_("discount (yuan)"))
    def discount_yuan(self, order):
        return yuan(order.discount)

    @admin.display(description=_("paid with points (yuan)"))
    def points_yuan(self, order):
        return yuan(order.points_discount)

    @admin.display(description=_("lines"))
    def lines_table(self, order):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (line.title, yuan(line.unit_price), line.quantity, yuan(line.amount))
                for line in order.line_items
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("course"),
            _("unit price (yuan)"),
            _("quantity"),
            _("amount (yuan)"),
            rows,
        )

    @admin.display(description=_("checkout risk assessment"))
    def risk(self, order):
        """The assessment stored with the order: inputs, each rule's verdict, the decision."""
        if not order.risk_assessment:
            return "-"
        return pretty_json(order.risk_assessment)
