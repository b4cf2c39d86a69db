"""Promoters in the back office: merchants manage their programme, decide applications
and see referred sales and their commission cost; finance sees promoter balances
(their payouts are in the payouts list, payee ``promoter:<id>``)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdminMixin, yuan_column
from core.errors import KpayError
from core.money import format_yuan
from courses.admin_scope import MerchantScopedAdminMixin

from . import services
from .ledger import promoter_balances
from .models import OrderReferral, Programme, Promoter

BALANCE_LABELS = {
    "pending": _("pending"),
    "available": _("available"),
    "payouts": _("payouts"),
    "paid_out": _("paid out"),
}


@admin.register(Programme)
class ProgrammeAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("merchant", "rate_bp", "attribution_days", "active", "created_at")
    list_filter = ("active",)
    filter_horizontal = ("courses", "plans")
    list_select_related = ("merchant",)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name in ("courses", "plans"):
            field.queryset = self.scope_queryset(request, field.queryset)
        return field


@admin.register(Promoter)
class PromoterAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("user", "merchant", "status", "applied_at", "decided_at")
    list_filter = ("status",)
    list_select_related = ("user", "merchant")
    search_fields = ("user__username", "user__email")
    readonly_fields = ("balances",)
    actions = ("approve", "refuse")

    def has_change_permission(self, request, obj=None):  # the actions decide, nothing is edited
        return (
            obj is None and admin.ModelAdmin.has_change_permission(self, request) and self.in_scope(request)
        )

    @admin.display(description=_("balances"))
    def balances(self, obj):
        figures = promoter_balances([obj.pk])[obj.pk]
        return "; ".join(
            f"{BALANCE_LABELS[name]}: {format_yuan(amount, symbol=True)}" for name, amount in figures.items()
        )

    def _decide(self, request, queryset, service):
        for promoter in queryset:
            try:
                service(promoter_id=promoter.pk, by=request.user)
            except KpayError as exc:
                self.message_user(request, f"{promoter}: {exc.message}", messages.ERROR)

    @admin.action(description=_("Approve the selected applications"), permissions=["change"])
    def approve(self, request, queryset):
        self._decide(request, queryset, services.promoter_approve)

    @admin.action(description=_("Refuse (or stop) the selected promoters"), permissions=["change"])
    def refuse(self, request, queryset):
        self._decide(request, queryset, services.promoter_refuse)


@admin.register(OrderReferral)
class OrderReferralAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """Referred sales and what they cost in commission."""

    list_display = ("order", "promoter", "order_total", "commission_shown", "rate_bp", "created_at")
    list_select_related = ("order", "promoter__user")
    date_hierarchy = "created_at"
    # The commission in yuan, never the raw fen of the model's field.
    fields = (
        "order",
        "promoter",
        "link",
        "rate_bp",
        "order_total",
        "commission_shown",
        "clicked_at",
        "created_at",
    )
    readonly_fields = ("order_total", "commission_shown")

    order_total = yuan_column("order__total", _("paid"))
    commission_shown = yuan_column("commission", _("promoter commission"))
