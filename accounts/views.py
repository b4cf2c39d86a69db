"""Account pages Django's auth views do not provide: signing up."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import UserCreationForm
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from core.http import next_url


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
