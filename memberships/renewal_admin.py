"""Automatic renewal in the back office, read-only: withholding agreements (with their
history and the gateway's notifications), renewals with every charge attempt, and the
attempts themselves ("failed renewals"). Merchant staff see their own members' only
(``MerchantScopedAdminMixin`` through the plan's merchant); support and finance see all.
Nothing is changed here: renewals move on through ``memberships.services`` only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.admin import ReadOnlyAdminMixin, ReadOnlyInline, pretty_json, yuan_column
from courses.admin_scope import MerchantScopedAdminMixin

from .models import (
    Agreement,
    AgreementEvent,
    AgreementStatusChange,
    Renewal,
    RenewalAttempt,
    RenewalStatusChange,
)


class AgreementStatusChangeInline(ReadOnlyInline):
    model = AgreementStatusChange
    fields = ("from_status", "to_status", "transition", "actor", "reason", "created_at")
    verbose_name_plural = pgettext_lazy("renewal", "history")


class AgreementEventInline(ReadOnlyInline):
    model = AgreementEvent
    fields = ("event_id", "state", "by_payer", "outcome", "detail", "received_at")
    verbose_name_plural = _("gateway notifications")


@admin.register(Agreement)
class AgreementAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = "membership__plan__merchant"
    list_display = (
        "agreement_no",
        "learner",
        "plan",
        "channel",
        "status",
        "cap_shown",
        "signed_at",
        "terminated_at",
        "terminated_by",
    )
    list_filter = ("status", "gateway", "channel", "terminated_by")
    search_fields = ("agreement_no", "gateway_agreement_id", "membership__learner__username")
    list_select_related = ("membership__learner", "membership__plan")
    fields = (
        "agreement_no",
        "membership",
        "gateway",
        "channel",
        "gateway_agreement_id",
        "status",
        "cap_shown",
        "currency",
        "period_unit",
        "period",
        "first_charge_on",
        "created_at",
        "signed_at",
        "termination_requested_at",
        "terminated_at",
        "terminated_by",
        "termination_reason",
    )
    inlines = [AgreementStatusChangeInline, AgreementEventInline]
    cap_shown = yuan_column("amount_cap", _("cap on each charge"))

    @admin.display(description=_("learner"))
    def learner(self, agreement):
        return agreement.membership.learner

    @admin.display(description=pgettext_lazy("renewal", "plan"))
    def plan(self, agreement):
        return agreement.membership.plan


class RenewalAttemptInline(ReadOnlyInline):
    model = RenewalAttempt
    fields = (
        "number",
        "attempted_at",
        "amount_shown",
        "order_no",
        "payment_no",
        "outcome",
        "gateway_state",
        "error_code",
        "error_message",
        "sends",
        "finished_at",
    )
    verbose_name_plural = pgettext_lazy("renewal", "attempts")
    amount_shown = yuan_column("amount", _("amount asked"))


class RenewalStatusChangeInline(ReadOnlyInline):
    model = RenewalStatusChange
    fields = ("from_status", "to_status", "transition", "reason", "created_at")
    verbose_name_plural = pgettext_lazy("renewal", "history")


class FailedFilter(admin.SimpleListFilter):
    """Renewals with at least one failed attempt (including those renewed in the end)."""

    title = pgettext_lazy("renewal", "failed attempts")
    parameter_name = "failed"

    def lookups(self, request, model_admin):
        return [
            ("yes", pgettext_lazy("renewal", "With failed attempts")),
            ("lapsed", pgettext_lazy("renewal", "Lapsed")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(
                attempts__outcome__in=[RenewalAttempt.Outcome.FAILED, RenewalAttempt.Outcome.REFUSED]
            ).distinct()
        if self.value() == "lapsed":
            return queryset.filter(status=Renewal.Status.FAILED)
        return queryset


@admin.register(Renewal)
class RenewalAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = "membership__plan__merchant"
    list_display = (
        "__str__",
        "status",
        "amount_shown",
        "charge_on",
        "attempts_made",
        "grace_until",
        "failure_reason",
        "order_no",
    )
    list_filter = ("status", FailedFilter, "charge_on")
    search_fields = ("order_no", "membership__learner__username", "agreement__agreement_no")
    list_select_related = ("membership__learner", "membership__plan")
    fields = (
        "membership",
        "agreement",
        "sequence",
        "status",
        "period_starts_at",
        "amount_shown",
        "charge_on",
        "window_starts_on",
        "window_ends_on",
        "gateway_notice_on",
        "notice_emailed_at",
        "first_attempt_on",
        "next_attempt_at",
        "attempts_made",
        "grace_until",
        "failure_reason",
        "order_no",
        "created_at",
        "finished_at",
    )
    inlines = [RenewalAttemptInline, RenewalStatusChangeInline]
    amount_shown = yuan_column("amount", _("amount"))


@admin.register(RenewalAttempt)
class RenewalAttemptAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    """Every charge attempt; filter on the outcome for failed renewals."""

    merchant_field = "renewal__membership__plan__merchant"
    list_display = (
        "renewal",
        "number",
        "attempted_at",
        "amount_shown",
        "outcome",
        "gateway_state",
        "error_code",
        "error_message",
        "order_no",
        "payment_no",
    )
    list_filter = ("outcome", "attempted_at")
    search_fields = ("order_no", "payment_no", "renewal__membership__learner__username")
    list_select_related = ("renewal__membership__learner", "renewal__membership__plan")
    fields = ("renewal", *RenewalAttemptInline.fields, "last_sent_at")  # its amount in yuan, too
    amount_shown = yuan_column("amount", _("amount asked"))


@admin.register(AgreementEvent)
class AgreementEventAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_field = None  # platform staff: the gateways' raw notifications
    list_display = ("event_id", "gateway", "agreement", "state", "by_payer", "outcome", "received_at")
    list_filter = ("gateway", "outcome", "state")
    search_fields = ("event_id", "agreement__agreement_no")
    fields = (
        "gateway",
        "event_id",
        "agreement",
        "state",
        "by_payer",
        "outcome",
        "detail",
        "payload_json",
        "received_at",
    )

    @admin.display(description=pgettext_lazy("renewal", "payload"))
    def payload_json(self, event):
        return pretty_json(event.payload)
