"""Credentials stay out of the admin: API tokens (knox) are not listed at all; TOTP devices
are listed without their keys, and a superuser may only delete one (to let its owner enrol
again at ``otp-setup``)."""

from django.apps import apps
from django.contrib import admin

if apps.is_installed("knox"):
    from knox.models import AuthToken

    if admin.site.is_registered(AuthToken):
        admin.site.unregister(AuthToken)

if apps.is_installed("django_otp.plugins.otp_totp"):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if admin.site.is_registered(TOTPDevice):
        admin.site.unregister(TOTPDevice)

    @admin.register(TOTPDevice)
    class TOTPDeviceAdmin(admin.ModelAdmin):
        list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
        list_filter = ("confirmed",)
        search_fields = ("user__username",)
        fields = ("user", "name", "confirmed", "created_at", "last_used_at")
        readonly_fields = fields

        def has_add_permission(self, request):
            return False

        def has_change_permission(self, request, obj=None):
            return False

        def has_view_permission(self, request, obj=None):
            return request.user.is_active and request.user.is_superuser

        def has_delete_permission(self, request, obj=None):
            return request.user.is_active and request.user.is_superuser
