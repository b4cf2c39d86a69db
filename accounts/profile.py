"""The learner's own pages: their profile (name, e-mail, time zone, language), changing the
password, and resetting a forgotten one by e-mail (Django's auth views, the site's
templates)."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from core.http import client_ip
from core.languages import language_choices

from . import languages, timezones
from .models import Profile

# A forgotten-password e-mail is sent at most this often: per client IP, and per address.
RESET_MAILS_PER_IP = 10
RESET_MAILS_PER_EMAIL = 3
RESET_WINDOW_SECONDS = 3600


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("Dates and times on the site are shown in this time zone."),
    )
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        help_text=_("The site and the e-mails we send you are written in this language."),
        error_messages={"invalid_choice": _("Choose a language from the list.")},
    )

    class Meta:
        model = get_user_model()
        fields = ("first_name", "last_name", "email")
        labels = {"first_name": _("Given name"), "last_name": _("Family name"), "email": _("Email")}
        help_texts = {"email": _("Receipts and password resets are sent here.")}

    def __init__(self, *args, time_zone: str, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = timezones.time_zone_choices()
        self.fields["time_zone"].initial = time_zone
        site_language = dict(language_choices()).get(settings.LANGUAGE_CODE, settings.LANGUAGE_CODE)
        self.fields["language"].choices = [
            ("", _("The site's language (%(language)s)") % {"language": site_language}),
            *language_choices(),
        ]
        self.fields["language"].initial = language
        self.fields["email"].required = True

    def clean_email(self):
        email = self.cleaned_data["email"]
        taken = get_user_model()._default_manager.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(
                _("An account with this email already exists."), code="duplicate_email"
            )
        return email

    def clean_time_zone(self):
        name = self.cleaned_data["time_zone"]
        if not timezones.is_time_zone(name):
            raise forms.ValidationError(_("Choose a time zone from the list."), code="invalid_time_zone")
        return name


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def profile(request):
    user = request.user
    current = timezones.time_zone_of(user)
    form = ProfileForm(
        request.POST or None, instance=user, time_zone=current, language=languages.chosen_language(user)
    )
    if request.method == "POST" and form.is_valid():
        language = form.cleaned_data["language"]
        with transaction.atomic():
            form.save()
            Profile.objects.update_or_create(
                user=user, defaults={"time_zone": form.cleaned_data["time_zone"], "language": language}
            )
        timezones.remember(request, form.cleaned_data["time_zone"])
        with translation.override(language or translation.get_language()):  # the next page's
            messages.success(request, translation.gettext("Your profile was saved."))
        response = redirect("profile")
        # The pages follow at once; left alone when none is chosen and none was, so saving
        # a new e-mail address doesn't undo the header's language buttons.
        if language or "language" in form.changed_data:
            languages.keep_in_cookie(response, language)
        return response
    return render(request, "accounts/profile.html", {"form": form})


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("profile")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password was changed. Your API tokens were revoked."))
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Sends the reset link (through ``EMAIL_BACKEND``: the console in development),
    built on ``KPAY_PUBLIC_URL``. Says the same whether or not the address has an
    account, and sends no more than a few mails an hour per address and per client."""

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    @property
    def extra_email_context(self):
        return {"site_url": settings.KPAY_PUBLIC_URL, "site_name": "kpay"}

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        if not (
            _under_limit(f"kpay:pwreset:ip:{client_ip(self.request)}", RESET_MAILS_PER_IP)
            and _under_limit(f"kpay:pwreset:email:{email}", RESET_MAILS_PER_EMAIL)
        ):
            return redirect(self.get_success_url())  # the same answer: no mail, nothing revealed
        return super().form_valid(form)


def _under_limit(key: str, limit: int) -> bool:
    cache.add(key, 0, timeout=RESET_WINDOW_SECONDS)
    try:
        return cache.incr(key) <= limit
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=RESET_WINDOW_SECONDS)
        return True
