"""Catalog back office: merchants, courses, lessons, enrollments, merchant staff."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdminMixin, yuan_column

from .admin_scope import MerchantScopedAdminMixin
from .models import Category, Course, Enrollment, Lesson, Merchant, MerchantMember


# -- catalog ---------------------------------------------------------------------
@admin.register(Merchant)
class MerchantAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = "pk"
    list_display = ("name", "slug", "commission_rate", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    """The catalogue's shelves, shared by all merchants (platform staff manage them;
    merchants pick one for each course)."""

    list_display = ("name", "slug", "position")
    list_editable = ("position",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class LessonInline(admin.StackedInline):
    model = Lesson
    extra = 0
    fields = (("position", "title", "is_preview"), "body")
    ordering = ("position", "pk")


@admin.register(Course)
class CourseAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("title", "merchant", "price_shown", "status", "created_at")
    list_filter = ("status", ("merchant", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("merchant",)
    search_fields = ("title", "slug", "summary")
    prepopulated_fields = {"slug": ("title",)}
    inlines = [LessonInline]

    price_shown = yuan_column("price", _("price"))


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
