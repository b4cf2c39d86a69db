"""Memberships in the back office: a merchant's plans (its staff manage them, prices in
yuan), its members with their periods, and "Refund this period" (payments' refund
services: four eyes, the journal), each merchant seeing its own only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdminMixin, ReadOnlyInline, service_form_view, yuan, yuan_column
from core.money import YuanField, fen_to_yuan
from courses import permissions
from courses.admin_scope import MerchantScopedAdminMixin
from courses.models import Course
from courses.roles import is_platform_staff, user_merchant
from payments.services import refund_approval_threshold

from . import renewal_admin  # noqa: F401 - automatic renewal's admin pages register themselves
from .models import Membership, MembershipPeriod, Plan
from .services.refunds import period_refund_issue, period_refund_preview

MAX_PERIOD_DAYS = 3660


class PlanForm(forms.ModelForm):
    """A plan with its price typed in yuan (stored in fen)."""

    price_yuan = YuanField(
        label=_("price"),
        min_fen=1,
        max_fen=10**10,
        help_text=_(
            "For one period. A new price applies to periods bought from now on; paid ones keep theirs."
        ),
    )

    class Meta:
        model = Plan
        fields = (
            "merchant",
            "title",
            "slug",
            "description",
            "period",
            "period_days",
            "currency",
            "all_courses",
            "courses",
            "renewal_allowed",
            "is_active",
        )

    # The merchant of a merchant-staff user (set by PlanAdmin.get_form): they never
    # choose one, and may only pick its courses.
    merchant_for_staff = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["price_yuan"] = fen_to_yuan(self.instance.price)

    def clean(self):
        data = super().clean()
        period = data.get("period", self.instance.period)
        days = data.get("period_days", self.instance.period_days)
        if period == Plan.Period.DAYS:
            if not days or not 1 <= days <= MAX_PERIOD_DAYS:
                self.add_error(
                    "period_days" if "period_days" in self.fields else None,
                    _("A plan of N days needs a number of days from 1 to %(max)s.")
                    % {"max": MAX_PERIOD_DAYS},
                )
        elif "period_days" in data:
            data["period_days"] = None
        if "courses" in data:
            courses = list(data.get("courses") or [])
            if data.get("all_courses"):
                data["courses"] = Course.objects.none()
            elif not courses:
                self.add_error("courses", _("Choose the courses the plan opens, or let it open all of them."))
            merchant = data.get("merchant") or getattr(self.instance, "merchant", None)
            if merchant is None and self.merchant_for_staff is not None:
                merchant = self.merchant_for_staff
            if merchant is not None and any(course.merchant_id != merchant.pk for course in courses):
                self.add_error("courses", _("A plan opens courses of its own merchant only."))
        return data

    def save(self, commit=True):
        self.instance.price = self.cleaned_data["price_yuan"]
        return super().save(commit=commit)


@admin.register(Plan)
class PlanAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    form = PlanForm
    price_shown = yuan_column("price", _("price"))
    list_display = ("title", "merchant", "period_label", "price_shown", "all_courses", "is_active", "members")
    list_filter = ("is_active", "period", ("merchant", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("merchant",)
    search_fields = ("title", "slug")
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ("courses",)
    fields = (
        "merchant",
        ("title", "slug"),
        "description",
        ("period", "period_days"),
        ("price_yuan", "currency"),
        "all_courses",
        "courses",
        ("renewal_allowed", "is_active"),
    )

    def get_queryset(self, request):
        running = Q(memberships__ends_at__gt=timezone.now())
        return (
            super()
            .get_queryset(request)
            .annotate(members=Count("memberships", filter=running, distinct=True))
        )

    def get_fields(self, request, obj=None):
        """Merchant staff never choose the merchant (``save_model`` sets their own)."""
        fields = super().get_fields(request, obj)
        return fields if is_platform_staff(request.user) else [f for f in fields if f != "merchant"]

    def get_readonly_fields(self, request, obj=None):
        """Once sold, a plan keeps its merchant, slug, currency and the length of its
        periods (stacked and moved-up periods are laid out by it); price, title,
        description, what it opens and being on sale may change."""
        if obj is not None and obj.memberships.exists():
            return ("merchant", "slug", "period", "period_days", "currency")
        return ()

    def get_prepopulated_fields(self, request, obj=None):
        return {} if "slug" in self.get_readonly_fields(request, obj) else self.prepopulated_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.merchant_for_staff = None if is_platform_staff(request.user) else user_merchant(request.user)
        return form

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        """The courses offered are the user's merchant's (all, for platform staff)."""
        if db_field.name == "courses":
            course_admin = self.admin_site.get_model_admin(Course)
            kwargs["queryset"] = course_admin.get_queryset(request).select_related("merchant")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description=_("period length"))
    def period_label(self, plan):
        return plan.period_label

    @admin.display(description=_("members now"), ordering="members")
    def members(self, plan):
        return plan.members


class MembershipPeriodInline(ReadOnlyInline):
    model = MembershipPeriod
    fields = ("sequence", "order", "price_shown", "starts_at", "last_day", "status", "ended_at", "refund")
    verbose_name = _("period")
    verbose_name_plural = _("periods")
    ordering = ("sequence",)
    price_shown = yuan_column("price", _("price paid"))

    def get_queryset(self, request):
        """Each period knows whether the user may refund its membership's merchant's orders."""
        queryset = super().get_queryset(request).select_related("membership__plan")
        self._may_refund = {}
        self._user = request.user
        return queryset

    def _user_may_refund(self, period) -> bool:
        merchant_id = period.membership.plan.merchant_id
        if merchant_id not in self._may_refund:
            self._may_refund[merchant_id] = permissions.may_issue_refund(self._user, merchant_id=merchant_id)
        return self._may_refund[merchant_id]

    @admin.display(description=_("order"))
    def order(self, period):
        url = reverse("admin:orders_order_changelist") + f"?q={period.order_no}"
        return format_html('<a href="{}">{}</a>', url, period.order_no)

    @admin.display(description=_("last day"))
    def last_day(self, period):
        return period.last_day

    @admin.display(description=_("refund"))
    def refund(self, period):
        if period.status != MembershipPeriod.Status.ACTIVE or period.ended_at is not None:
            return "-"
        if not self._user_may_refund(period):
            return "-"
        url = reverse("admin:memberships_membership_refund_period", args=[period.membership_id, period.pk])
        return format_html('<a href="{}">{}</a>', url, _("Refund this period"))


class PeriodRefundForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=255, widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """A merchant's members: each learner's membership of a plan and its periods."""

    merchant_field = "plan__merchant"
    list_display = ("learner", "plan", "merchant", "last_day", "running", "auto_renew", "grace_until")
    list_filter = ("auto_renew", ("plan", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("learner", "plan", "plan__merchant")
    search_fields = ("learner__username", "plan__title", "periods__order_no")
    fields = (("learner", "plan"), ("ends_at", "grace_until", "auto_renew"), "created_at")
    readonly_fields = ("learner", "plan", "ends_at", "grace_until", "auto_renew", "created_at")
    inlines = [MembershipPeriodInline]

    @admin.display(description=_("merchant"), ordering="plan__merchant__name")
    def merchant(self, membership):
        return membership.plan.merchant

    @admin.display(description=_("last day"), ordering="ends_at")
    def last_day(self, membership):
        return membership.last_day or "-"

    @admin.display(description=_("running"), boolean=True)
    def running(self, membership):
        now = timezone.now()
        return bool(
            (membership.ends_at and membership.ends_at > now)
            or (membership.grace_until and membership.grace_until > now)
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:membership_id>/periods/<int:period_id>/refund/",
                wrap(self.refund_period_view),
                name="memberships_membership_refund_period",
            ),
            *super().get_urls(),
        ]

    def refund_period_view(self, request, membership_id, period_id):
        membership = self.get_queryset(request).filter(pk=membership_id).first()
        period = None if membership is None else membership.periods.filter(pk=period_id).first()
        if period is None:
            raise Http404
        if not permissions.may_issue_refund(request.user, merchant_id=membership.plan.merchant_id):
            raise PermissionDenied
        order, quote = period_refund_preview(period=period)

        def perform(data):
            refund = period_refund_issue(actor=request.user, period_id=period.pk, reason=data["reason"])
            refund.refresh_from_db()
            messages.success(
                request,
                _("Period #%(sequence)s ended; refund %(no)s of %(amount)s is %(status)s.")
                % {
                    "sequence": period.sequence,
                    "no": refund.refund_no,
                    "amount": yuan(refund.amount),
                    "status": refund.get_status_display(),
                },
            )
            return redirect("admin:payments_refund_change", refund.pk)

        return service_form_view(
            self,
            request,
            form=PeriodRefundForm(request.POST or None),
            perform=perform,
            template="admin/memberships/period_refund.html",
            title=_("Refund period #%(sequence)s of %(membership)s")
            % {"sequence": period.sequence, "membership": membership},
            context={
                "membership": membership,
                "period": period,
                "order": order,
                "quote": quote,
                "paid": yuan(quote.paid),
                "owed": yuan(quote.owed),
                "refunded": yuan(quote.refunded),
                "amount": yuan(quote.amount),
                "threshold": yuan(refund_approval_threshold()),
            },
        )
