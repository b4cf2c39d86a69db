"""kpay's admin site: Django's, plus a second factor (TOTP, django-otp) for every staff
user when ``settings.KPAY_ADMIN_OTP_REQUIRED`` is on (the default in production).

The admin login asks for the password and the current code of the user's authenticator app
(or one of their recovery codes, ``accounts.otp``, each usable once); a session is admitted
to the admin only once a device has verified it. A staff user with no device yet is sent to
``accounts:otp-setup`` (with the enrolment link a superuser issued: re-enter the password,
scan the QR code, confirm a code). Settings are read per request, so tests can switch the
requirement.
"""

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.sites import AdminSite
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.admin_app_list import CachedAppListMixin
from core.admin_urls import cached_reverse
from core.work_queues import work_queues

from .backends import preload_staff


def otp_required() -> bool:
    return bool(getattr(settings, "KPAY_ADMIN_OTP_REQUIRED", False))


def verify_totp(user, token: str, device=None):
    """The TOTP device of ``user`` that accepts ``token``, or None: ``device`` if given
    (while setting one up), else any of the user's confirmed ones. Each code works once;
    django-otp locks the device row while checking (django_otp.verify_token) and pauses a
    device after wrong codes."""
    import django_otp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    token = (token or "").strip().replace(" ", "")
    if not token.isdigit() or len(token) > 8:
        return None
    devices = [device] if device is not None else TOTPDevice.objects.filter(user=user, confirmed=True)
    for candidate in devices:
        verified = django_otp.verify_token(user, candidate.persistent_id, token)
        if verified is not None:
            return verified
    return None


class StaffAuthenticationForm(AdminAuthenticationForm):
    """The admin login: username, password and, when required, the authenticator code."""

    otp_token = forms.CharField(
        label=_("Authenticator code"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
        help_text=_("The 6-digit code your authenticator app shows for kpay, or one of your recovery codes."),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_required": _("Enter the code from your authenticator app."),
        "otp_invalid": _("That authenticator code is not valid (or was already used). Try the next one."),
        "otp_no_device": _(
            "Your account has no authenticator app yet. Log in on the site and set one up: %(url)s"
        ),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        if not otp_required():
            del self.fields["otp_token"]

    def clean(self):
        cleaned = super().clean()  # password (and lockout), then is_staff
        user = self.get_user()
        if otp_required() and user is not None:
            from django_otp.plugins.otp_totp.models import TOTPDevice

            if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                raise forms.ValidationError(
                    self.error_messages["otp_no_device"],
                    code="otp_no_device",
                    params={"url": reverse("otp-setup")},
                )
            token = cleaned.get("otp_token")
            if not token:
                raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
            from .otp import verify_recovery_code

            device = verify_totp(user, token) or verify_recovery_code(user, token)
            if device is None:
                raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
            user.otp_device = device  # django_otp persists it in the session on login
        return cleaned


class KpayAdminSite(CachedAppListMixin, AdminSite):
    login_form = StaffAuthenticationForm
    login_template = "admin/kpay_login.html"

    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        if otp_required():
            is_verified = getattr(request.user, "is_verified", None)
            if not (is_verified and is_verified()):
                return False
        preload_staff(request.user)  # the permission and merchant reads of the page, as one
        return True

    def each_context(self, request):
        context = super().each_context(request)
        context["otp_setup_url"] = cached_reverse("otp-setup")  # reversed once, not per page
        return context

    def index(self, request, extra_context=None):
        """The home page starts from the work waiting for this person (``core.admin``'s
        work queues: refunds to approve, orders held for review, payouts, differences …)."""
        extra_context = {**(extra_context or {}), "work_queues": work_queues(request)}
        return super().index(request, extra_context)


__all__ = ["KpayAdminSite", "StaffAuthenticationForm", "verify_totp"]
