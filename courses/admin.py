"""Catalog back office, and the pieces every kpay admin shares.

:class:`MerchantScopedAdminMixin` is the one place per-merchant isolation is decided
for the admin: querysets, object permissions, foreign-key choices and the merchant
written on save. Every kpay model admin uses it (see ``courses.roles`` for who is who).
"""

import json
from decimal import Decimal

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Course, Enrollment, Lesson, Merchant, MerchantMember
from .roles import is_platform_staff, user_merchant

admin.site.site_header = _("kpay back office")
admin.site.site_title = _("kpay back office")
admin.site.index_title = _("Back office")

# API tokens are credentials: never listed in the admin.
if apps.is_installed("rest_framework.authtoken"):
    from rest_framework.authtoken.models import TokenProxy

    if admin.site.is_registered(TokenProxy):
        admin.site.unregister(TokenProxy)


def yuan(fen: int | None) -> str:
    """Fen as a yuan amount for display: 9900 -> "99.00"."""
    if fen is None:
        return "-"
    return f"{Decimal(fen) / 100:,.2f}"


def admin_link(obj, label=None) -> str:
    """A link to ``obj``'s admin page (the page itself decides who may see it)."""
    if obj is None:
        return "-"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if label is None else label)


def pretty_json(value) -> str:
    """A JSON field, indented, for read-only pages."""
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return format_html('<pre style="margin:0; white-space:pre-wrap">{}</pre>', text)


class MerchantScopedAdminMixin:
    """Limits an admin to the rows of the staff user's merchant.

    ``merchant_field`` is the lookup path from the model to its merchant:
    ``"merchant"``, ``"course__merchant"``, ``"order__merchant"``, or ``"pk"`` for
    :class:`Merchant` itself; ``None`` makes the admin platform-staff only. Platform
    staff (``courses.roles.is_platform_staff``) see every merchant; merchant staff see
    their own; every other user sees nothing, whatever their permissions.
    """

    merchant_field: str | None = "merchant"

    # -- who sees what --------------------------------------------------------
    def scope_queryset(self, request, queryset):
        if is_platform_staff(request.user):
            return queryset
        merchant = user_merchant(request.user)
        if merchant is None or self.merchant_field is None:
            return queryset.none()
        return queryset.filter(**{self.merchant_field: merchant.pk})

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def merchant_id_of(self, obj) -> int | None:
        """The id of ``obj``'s merchant, following ``merchant_field``."""
        *path, last = self.merchant_field.split("__")
        for name in path:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        if last == "pk":
            return obj.pk
        return getattr(obj, obj._meta.get_field(last).attname)

    def in_scope(self, request, obj=None) -> bool:
        """Whether the user may touch ``obj`` (or, without one, this admin at all)."""
        if is_platform_staff(request.user):
            return True
        merchant = user_merchant(request.user)
        if merchant is None or self.merchant_field is None:
            return False
        return obj is None or self.merchant_id_of(obj) == merchant.pk

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self.in_scope(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.in_scope(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.in_scope(request, obj)

    def has_add_permission(self, request, *args):
        return super().has_add_permission(request, *args) and self.in_scope(request)

    # -- forms ------------------------------------------------------------------
    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """A foreign key to a merchant-scoped model offers only the user's own rows."""
        related = db_field.remote_field.model
        if "queryset" not in kwargs and self.admin_site.is_registered(related):
            related_admin = self.admin_site.get_model_admin(related)
            if isinstance(related_admin, MerchantScopedAdminMixin):
                kwargs["queryset"] = related_admin.get_queryset(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_exclude(self, request, obj=None):
        """Merchant staff never choose the merchant: ``save_model`` sets their own."""
        exclude = list(super().get_exclude(request, obj) or ())
        if self.merchant_field == "merchant" and not is_platform_staff(request.user):
            exclude.append("merchant")
        return exclude

    def save_model(self, request, obj, form, change):
        if not is_platform_staff(request.user):
            merchant = user_merchant(request.user)
            if merchant is None or self.merchant_field is None:
                raise PermissionDenied
            if self.merchant_field == "merchant":
                obj.merchant = merchant
            if self.merchant_id_of(obj) != merchant.pk:
                raise PermissionDenied
        super().save_model(request, obj, form, change)


class ReadOnlyAdminMixin:
    """Shown, never written here: writes go through services (or never happen)."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    """History rows and the like under their parent object: all fields read-only."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def get_fields(self, request, obj=None):
        return self.fields


# -- catalog ---------------------------------------------------------------------
@admin.register(Merchant)
class MerchantAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = "pk"
    list_display = ("name", "slug", "commission_rate", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class LessonInline(admin.StackedInline):
    model = Lesson
    extra = 0
    fields = (("position", "title", "is_preview"), "body")
    ordering = ("position", "pk")


@admin.register(Course)
class CourseAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("title", "merchant", "price_yuan", "status", "created_at")
    list_filter = ("status", ("merchant", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("merchant",)
    search_fields = ("title", "slug", "summary")
    prepopulated_fields = {"slug": ("title",)}
    inlines = [LessonInline]

    @admin.display(description=_("price (yuan)"), ordering="price")
    def price_yuan(self, course):
        return yuan(course.price)


@admin.register(Lesson)
class LessonAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = "course__merchant"
    list_display = ("title", "course", "position", "is_preview")
    list_filter = ("is_preview", ("course", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("course",)
    search_fields = ("title", "course__title")


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = "course__merchant"
    list_display = ("learner", "course", "status", "order_no", "granted_at", "revoked_at")
    list_filter = ("status", ("course", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("learner", "course")
    search_fields = ("learner__username", "course__title", "order_no")


@admin.register(MerchantMember)
class MerchantMemberAdmin(admin.ModelAdmin):
    """Who works for which merchant: decides what they see, so superusers only."""

    list_display = ("user", "merchant")
    list_select_related = ("user", "merchant")
    search_fields = ("user__username", "merchant__name")
    raw_id_fields = ("user",)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)
