"""Account pages Django's auth views do not provide: signing up, the lockout page and
setting up a staff authenticator app."""

from base64 import b32encode

import segno
from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from core.http import next_url

from . import otp
from .admin_site import verify_totp
from .api import lockout_message


class SignupForm(UserCreationForm):
    email = forms.EmailField(
        label=_("Email"), max_length=254, help_text=_("For receipts and account recovery.")
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"]
        if get_user_model()._default_manager.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                _("An account with this email already exists."), code="duplicate_email"
            )
        return email


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "HEAD", "POST"])
def signup(request):
    """Create an account, log in with it and go on to ``next`` (or the catalog)."""
    destination = next_url(request, settings.LOGIN_REDIRECT_URL)
    if request.user.is_authenticated:
        return redirect(destination)
    form = SignupForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(destination)
    next_param = request.POST.get("next") or request.GET.get("next") or ""
    return render(
        request,
        "registration/signup.html",
        {
            "form": form,
            "next": next_param if destination == next_param else "",
        },
    )


def locked_out(request, original_response=None, credentials=None):
    """What a locked-out login gets (django-axes' AXES_LOCKOUT_CALLABLE): the API its error
    shape, the site and the admin a page saying when to try again; always 429."""
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": {"code": "login_locked", "message": lockout_message()}}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": lockout_message()}, status=429)
    response["Retry-After"] = retry_after
    return response


SETUP_DEVICE_KEY = "kpay_otp_setup_device"
ENROLMENT_KEY = "kpay_otp_enrolment"


class PasswordAgainForm(forms.Form):
    password = forms.CharField(label=_("Your password"), strip=False, widget=forms.PasswordInput)


class OtpCodeForm(forms.Form):
    otp_token = forms.CharField(
        label=_("Code from the app"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _qr_svg(text: str) -> str:
    svg = segno.make(text, micro=False, error="m").svg_inline(scale=4, border=2)
    return mark_safe(svg)  # noqa: S308 - segno's own markup


@never_cache
@login_required
@sensitive_post_parameters("password")
@require_http_methods(["GET", "HEAD", "POST"])
def otp_setup(request):
    """A staff user sets up their authenticator app (TOTP) for the admin: follow the
    enrolment link a superuser issued (:func:`otp_enrol`), re-enter the password, scan
    the QR code, confirm one code; the recovery codes are then shown, once. Only while
    the user has no confirmed device: replacing one takes a superuser resetting it in
    the admin and issuing a new link."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = request.user
    if not user.is_staff:
        raise PermissionDenied
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return render(request, "accounts/otp_setup.html", {"step": "done"})
    enrolment = otp.enrolment_open(user=user, pk=request.session.get(ENROLMENT_KEY))
    if enrolment is None:
        request.session.pop(SETUP_DEVICE_KEY, None)
        return render(request, "accounts/otp_setup.html", {"step": "link"})

    device = None
    device_id = request.session.get(SETUP_DEVICE_KEY)
    if device_id:
        device = TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()

    if request.method == "POST" and "password" in request.POST:
        password_form = PasswordAgainForm(request.POST)
        if password_form.is_valid() and authenticate(
            request, username=user.get_username(), password=password_form.cleaned_data["password"]
        ):
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
            request.session[SETUP_DEVICE_KEY] = device.pk
            return redirect("otp-setup")
        if getattr(request, "axes_locked_out", False):
            return locked_out(request)
        password_form.add_error("password", _("That is not your password."))
        return render(request, "accounts/otp_setup.html", {"step": "password", "form": password_form})

    if device is None:
        return render(request, "accounts/otp_setup.html", {"step": "password", "form": PasswordAgainForm()})

    code_form = OtpCodeForm(request.POST if request.method == "POST" else None)
    if code_form.is_valid():
        allowed, _extra = device.verify_is_allowed()
        if not allowed:
            code_form.add_error("otp_token", _("Too many wrong codes: wait a little and try again."))
        elif (verified := verify_totp(user, code_form.cleaned_data["otp_token"], device)) is not None:
            if not otp.enrolment_use(enrolment=enrolment):  # used meanwhile, in another tab
                return render(request, "accounts/otp_setup.html", {"step": "link"})
            verified.confirmed = True
            verified.save(update_fields=["confirmed"])
            request.session.pop(SETUP_DEVICE_KEY, None)
            request.session.pop(ENROLMENT_KEY, None)
            otp_login(request, verified)
            # Shown in this response only (never stored in clear, not even in the session).
            return render(
                request,
                "accounts/otp_recovery_codes.html",
                {"codes": otp.recovery_codes_regenerate(user), "enrolled": True},
            )
        else:
            code_form.add_error("otp_token", _("That code is not valid. Enter the code the app shows now."))
    return render(
        request,
        "accounts/otp_setup.html",
        {
            "step": "scan",
            "form": code_form,
            "qr_svg": _qr_svg(device.config_url),
            "secret": b32encode(device.bin_key).decode(),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "HEAD"])
def otp_enrol(request, token: str):
    """The enrolment link a superuser issued: for the logged-in staff member it names,
    unused and unexpired, it opens :func:`otp_setup`; any other link says to ask for a
    new one (nothing tells a wrong token from an expired one)."""
    if not request.user.is_staff:
        raise PermissionDenied
    enrolment = otp.enrolment_open(user=request.user, token=token)
    if enrolment is None:
        return render(request, "accounts/otp_setup.html", {"step": "link", "bad_link": True}, status=404)
    request.session[ENROLMENT_KEY] = enrolment.pk
    return redirect("otp-setup")


class RecoveryCodesForm(forms.Form):
    password = forms.CharField(label=_("Your password"), strip=False, widget=forms.PasswordInput)
    otp_token = forms.CharField(
        label=_("Code from the app"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


@never_cache
@login_required
@sensitive_post_parameters("password", "otp_token")
@require_http_methods(["GET", "HEAD", "POST"])
def otp_recovery_codes(request):
    """How many recovery codes a staff member has left, and new ones (the old ones stop
    working) for their password and a code from their authenticator app."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = request.user
    if not user.is_staff:
        raise PermissionDenied
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect("otp-setup")
    form = RecoveryCodesForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        if not authenticate(request, username=user.get_username(), password=form.cleaned_data["password"]):
            if getattr(request, "axes_locked_out", False):
                return locked_out(request)
            form.add_error("password", _("That is not your password."))
        elif verify_totp(user, form.cleaned_data["otp_token"]) is None:
            form.add_error("otp_token", _("That code is not valid. Enter the code the app shows now."))
        else:
            return render(
                request, "accounts/otp_recovery_codes.html", {"codes": otp.recovery_codes_regenerate(user)}
            )
    return render(
        request, "accounts/otp_recovery_codes.html", {"form": form, "left": otp.recovery_codes_left(user)}
    )
