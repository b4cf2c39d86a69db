"""Coupons in the back office: merchants make their own (their courses only, their money)
and see how they were used; marketing staff make platform coupons. Writes go through
``promotions.services``; figures come from ``promotions.selectors``."""

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin import (
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    StatusHistoryInline,
    admin_link,
    service_form_view,
    yuan,
    yuan_column,
)
from courses.admin_scope import MerchantScopedAdminMixin
from courses.models import Course
from courses.permissions import may_adjust_points, may_grant_coupon, may_manage_coupon
from courses.roles import is_platform_staff, user_merchant

from . import points, selectors, services
from .exceptions import PromotionError
from .models import Coupon, PointsEntry, Redemption, RedemptionStatusChange, WalletCoupon


def _funding_for(user) -> str:
    """Merchant staff make merchant coupons; platform staff (marketing) platform coupons."""
    return Coupon.Funding.PLATFORM if is_platform_staff(user) else Coupon.Funding.MERCHANT


class GrantForm(forms.Form):
    learners = forms.CharField(
        label=_("learners"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Usernames, separated by commas, spaces or new lines."),
    )
    reason = forms.CharField(label=_("reason"), max_length=255)

    def clean_learners(self):
        names = [name for name in re.split(r"[\s,]+", self.cleaned_data["learners"]) if name]
        users, unknown = selectors.learners_by_username(names)
        if unknown:
            raise ValidationError(_("No such learners: %(names)s") % {"names": ", ".join(unknown)})
        return users


class RedemptionInline(ReadOnlyInline):
    model = Redemption
    fields = ("order", "learner", "amount_shown", "reversed_shown", "status", "created_at")
    verbose_name_plural = _("redemptions")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "learner")

    amount_shown = yuan_column("amount", _("discount"))
    reversed_shown = yuan_column("reversed_amount", _("taken back by refunds"))


@admin.register(Coupon)
class CouponAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "funded_by",
        "merchant",
        "discount_label",
        "starts_at",
        "ends_at",
        "quantity",
        "issued",
        "used",
        "cost_shown",
        "is_active",
    )
    list_filter = ("funded_by", "kind", "scope", "is_active")
    list_select_related = ("merchant",)
    search_fields = ("name", "code")
    filter_horizontal = ("courses",)
    readonly_fields = ("issued", "grant", "created_by", "created_at")
    inlines = [RedemptionInline]

    def get_queryset(self, request):
        return selectors.coupons_with_usage(super().get_queryset(request))

    # -- granting an issued platform coupon to chosen learners --
    def get_urls(self):
        wrap = self.admin_site.admin_view
        grant = path("<int:coupon_id>/grant/", wrap(self.grant_view), name="promotions_coupon_grant")
        return [grant, *super().get_urls()]

    @staticmethod
    def _grantable(request, coupon) -> bool:
        return (
            coupon is not None
            and coupon.pk is not None
            and not coupon.code
            and coupon.funded_by == Coupon.Funding.PLATFORM
            and may_grant_coupon(request.user)
        )

    @admin.display(description=_("grant"))
    def grant(self, coupon):
        if coupon is None or coupon.pk is None or coupon.code:
            return "-"
        url = reverse("admin:promotions_coupon_grant", args=[coupon.pk])
        return format_html('<a href="{}">{}</a>', url, _("Grant to learners"))

    def grant_view(self, request, coupon_id):
        coupon = self.get_queryset(request).filter(pk=coupon_id).first()
        if coupon is None:
            raise Http404
        if not self._grantable(request, coupon):
            raise PermissionDenied

        def grant(data):
            granted = services.coupon_grant(
                actor=request.user,
                coupon_id=coupon.pk,
                learner_ids=[user.pk for user in data["learners"]],
                reason=data["reason"],
            )
            messages.success(request, _("%(count)s coupons granted.") % {"count": len(granted)})
            return redirect("admin:promotions_coupon_change", coupon.pk)

        return service_form_view(
            self,
            request,
            form=GrantForm(request.POST or None),
            perform=grant,
            template="admin/promotions/coupon/grant.html",
            title=_("Grant %(coupon)s to learners") % {"coupon": coupon.name},
            context={"coupon": coupon, "left": coupon.quantity - coupon.issued},
        )

    def get_exclude(self, request, obj=None):
        return [*super().get_exclude(request, obj), "funded_by"]

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        if obj is None or not allowed:
            return allowed
        return may_manage_coupon(request.user, funded_by=obj.funded_by, merchant_id=obj.merchant_id)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "courses" and not is_platform_staff(request.user):
            merchant = user_merchant(request.user)
            kwargs["queryset"] = (
                Course.objects.filter(merchant=merchant) if merchant else Course.objects.none()
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        funded_by = obj.funded_by if obj is not None else _funding_for(request.user)
        own_merchant = None if is_platform_staff(request.user) else user_merchant(request.user)

        class CouponForm(form):
            def clean_code(self):
                return services.normalize_code(self.cleaned_data.get("code") or "") or None

            def clean(self):
                cleaned = super().clean()
                quantity = cleaned.get("quantity")
                if self.instance.pk and quantity is not None and quantity < self.instance.issued:
                    raise ValidationError(
                        _("The quantity cannot be below the %(issued)s coupons already issued.")
                        % {"issued": self.instance.issued}
                    )
                merchant = own_merchant or cleaned.get("merchant")
                try:
                    services.coupon_check_scope(
                        funded_by=funded_by,
                        merchant=merchant,
                        scope=cleaned.get("scope"),
                        courses=cleaned.get("courses") or [],
                    )
                except PromotionError as error:
                    raise ValidationError(error.message) from None
                return cleaned

        return CouponForm

    def save_model(self, request, obj, form, change):
        if obj.pk is None:
            obj.funded_by = _funding_for(request.user)
        if not is_platform_staff(request.user):
            obj.merchant = user_merchant(request.user)
        if not may_manage_coupon(request.user, funded_by=obj.funded_by, merchant_id=obj.merchant_id):
            raise PermissionDenied
        services.coupon_save(actor=request.user, coupon=obj, courses=form.cleaned_data.get("courses"))

    @admin.display(description=_("discount"))
    def discount_label(self, coupon):
        if coupon.kind == Coupon.Kind.AMOUNT:
            return yuan(coupon.amount_off)
        cap = f" (≤ {yuan(coupon.max_discount)})" if coupon.max_discount else ""
        return f"{coupon.percent_off}%{cap}"

    @admin.display(description=_("used"), ordering="used")
    def used(self, coupon):
        return coupon.used

    cost_shown = yuan_column("cost", _("cost"))


class RedemptionStatusChangeInline(StatusHistoryInline):
    model = RedemptionStatusChange


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("coupon", "order_link", "learner", "amount_shown", "funded_by", "status", "created_at")
    list_filter = ("status", "funded_by")
    list_select_related = ("coupon", "order", "learner")
    search_fields = ("coupon__code", "coupon__name", "order__order_no", "learner__username")
    fields = (
        ("coupon", "wallet_coupon"),
        ("learner", "order", "merchant"),
        ("amount_shown", "funded_by", "reversed_shown"),
        ("status", "created_at", "consumed_at", "closed_at"),
    )
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])
    inlines = [RedemptionStatusChangeInline]

    @admin.display(description=_("order"))
    def order_link(self, redemption):
        return admin_link(redemption.order)

    amount_shown = yuan_column("amount", _("discount"))
    reversed_shown = yuan_column("reversed_amount", _("taken back by refunds"))


@admin.register(WalletCoupon)
class WalletCouponAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = "coupon__merchant"
    list_display = ("coupon", "learner", "source", "granted_by", "created_at")
    list_filter = ("source",)
    list_select_related = ("coupon", "learner", "granted_by")
    search_fields = ("coupon__name", "learner__username")


class PointsAdjustForm(forms.Form):
    ACTIONS = [("grant", _("Grant")), ("deduct", _("Deduct"))]

    learner = forms.CharField(label=_("learner"), max_length=150, help_text=_("The learner's username."))
    action = forms.ChoiceField(label=_("action"), choices=ACTIONS)
    points = forms.IntegerField(label=_("points"), min_value=1, max_value=10**9)
    reason = forms.CharField(label=_("reason"), max_length=255)

    def clean_learner(self):
        users, unknown = selectors.learners_by_username([self.cleaned_data["learner"]])
        if unknown or not users:
            raise ValidationError(_("No such learners: %(names)s") % {"names": self.cleaned_data["learner"]})
        return users[0]


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The points history (read-only: rows are never changed); staff with the permission
    grant or deduct points, with a reason, on a service page."""

    list_display = ("created_at", "learner", "kind", "points", "order_link", "actor", "reason")
    list_filter = ("kind",)
    list_select_related = ("learner", "order", "actor")
    search_fields = ("learner__username", "order__order_no", "reason")
    date_hierarchy = "created_at"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        adjust = path("adjust/", wrap(self.adjust_view), name="promotions_pointsentry_adjust")
        return [adjust, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra = {"may_adjust_points": may_adjust_points(request.user), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    @admin.display(description=_("order"))
    def order_link(self, entry):
        return admin_link(entry.order) if entry.order_id else "-"

    def adjust_view(self, request):
        if not may_adjust_points(request.user):
            raise PermissionDenied

        def adjust(data):
            service = points.points_grant if data["action"] == "grant" else points.points_deduct
            service(
                actor=request.user,
                learner_id=data["learner"].pk,
                points=data["points"],
                reason=data["reason"],
            )
            messages.success(
                request,
                _("%(points)s points: %(action)s for %(learner)s.")
                % {
                    "points": data["points"],
                    "action": dict(PointsAdjustForm.ACTIONS)[data["action"]],
                    "learner": data["learner"],
                },
            )
            return redirect("admin:promotions_pointsentry_changelist")

        return service_form_view(
            self,
            request,
            form=PointsAdjustForm(request.POST or None),
            perform=adjust,
            template="admin/kpay/service_page.html",
            title=_("Grant or deduct points"),
        )
