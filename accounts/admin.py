"""Credentials stay out of the admin: API tokens (knox) are not listed at all; TOTP devices
are listed without their keys, recovery codes only counted; a superuser may only delete a
device (resetting the owner's second factor: authenticator apps and recovery codes) and
issue an enrolment link (``accounts.otp``), shown once, to let its owner enrol again at
``otp-setup``."""

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import otp
from .models import OtpEnrolment

if apps.is_installed("knox"):
    from knox.models import AuthToken

    if admin.site.is_registered(AuthToken):
        admin.site.unregister(AuthToken)


class SuperuserOnlyMixin:
    """Viewed and deleted by superusers only; never added or changed here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


class ResetsSecondFactorMixin:
    """Deleting a device resets its owner's whole second factor (``otp.second_factor_reset``):
    a lost phone's recovery codes must not outlive it."""

    def delete_model(self, request, obj):
        otp.second_factor_reset(user=obj.user)

    def delete_queryset(self, request, queryset):
        for user in {device.user for device in queryset.select_related("user")}:
            otp.second_factor_reset(user=user)


if apps.is_installed("django_otp.plugins.otp_totp"):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if admin.site.is_registered(TOTPDevice):
        admin.site.unregister(TOTPDevice)

    @admin.register(TOTPDevice)
    class TOTPDeviceAdmin(ResetsSecondFactorMixin, SuperuserOnlyMixin, admin.ModelAdmin):
        list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
        list_filter = ("confirmed",)
        search_fields = ("user__username",)
        fields = ("user", "name", "confirmed", "created_at", "last_used_at")
        readonly_fields = fields


if apps.is_installed("django_otp.plugins.otp_static"):
    from django_otp.plugins.otp_static.models import StaticDevice

    if admin.site.is_registered(StaticDevice):
        admin.site.unregister(StaticDevice)  # its inline lists the stored tokens

    @admin.register(StaticDevice)
    class RecoveryCodesAdmin(ResetsSecondFactorMixin, SuperuserOnlyMixin, admin.ModelAdmin):
        list_display = ("user", "codes_left", "created_at", "last_used_at")
        search_fields = ("user__username",)
        fields = ("user", "codes_left", "created_at", "last_used_at")
        readonly_fields = fields

        def get_queryset(self, request):
            return otp.recovery_device_counts(super().get_queryset(request))

        @admin.display(description=_("recovery codes left"), ordering="codes_left")
        def codes_left(self, device):
            return device.codes_left


class OtpEnrolmentForm(forms.ModelForm):
    class Meta:
        model = OtpEnrolment
        fields = ["user"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "user" not in self.fields:  # an issued link, read-only
            return
        self.fields["user"].queryset = get_user_model()._default_manager.filter(is_staff=True, is_active=True)
        self.fields["user"].help_text = _(
            "The link is shown once, after saving: give it to this staff member yourself (not by the "
            "same channel as their password). It works once, for them, logged in."
        )


@admin.register(OtpEnrolment)
class OtpEnrolmentAdmin(admin.ModelAdmin):
    """Superusers issue enrolment links (the add form); nothing is changed afterwards."""

    form = OtpEnrolmentForm
    list_display = ("user", "issued_by", "issued_at", "expires_at", "used_at", "withdrawn_at")
    search_fields = ("user__username",)
    readonly_fields = ("user", "issued_by", "issued_at", "expires_at", "used_at", "withdrawn_at")

    def get_fields(self, request, obj=None):
        return ["user"] if obj is None else list(self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        enrolment, token = otp.enrolment_issue(user=form.cleaned_data["user"], by=request.user)
        for name in ("pk", "issued_by", "issued_at", "expires_at", "token_digest"):
            setattr(obj, name, getattr(enrolment, name))
        obj._state.adding = False
        link = request.build_absolute_uri(reverse("otp-enrol", args=[token]))
        self.message_user(
            request,
            _("Enrolment link for %(user)s (shown once, valid until %(until)s): %(link)s")
            % {"user": enrolment.user, "until": enrolment.expires_at, "link": link},
            messages.WARNING,
        )
