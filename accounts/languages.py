"""The language a learner chose, kept on their profile so that what the site writes to
them outside a request (the refund and renewal e-mails: ``core.languages.language_of``)
is in it too; the site's pages follow Django's language cookie, set at the same time."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.utils import translation
from django.views import i18n

from core.languages import is_language

from .models import Profile


def chosen_language(user) -> str:
    """The language stored on the learner's profile; empty: none chosen (the site's)."""
    return Profile.objects.filter(user_id=user.pk).values_list("language", flat=True).first() or ""


def remember(user, code: str) -> None:
    """Store ``code`` (one of ``LANGUAGES``, or empty for the site's) on ``user``'s profile."""
    if code and not is_language(code):
        raise ValueError(f"not one of the site's languages: {code!r}")
    profile, _ = Profile.objects.update_or_create(user=user, defaults={"language": code})
    user.profile = profile


def keep_in_cookie(response, code: str) -> None:
    """Django's language cookie, as its ``set_language`` sets it; empty ``code``: the cookie
    is dropped, and the site's pages go back to the browser's or the site's language."""
    if not code:
        response.delete_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
        return
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def set_language(request):
    """Django's ``set_language`` (the header's language buttons: the cookie, then back to
    ``next``), which also stores the choice on a logged-in learner's profile: the language
    the pages will be in (``en-gb``: ``en``). A code the site doesn't speak changes nothing,
    as in Django's view."""
    response = i18n.set_language(request)
    code = request.POST.get(i18n.LANGUAGE_QUERY_PARAMETER)
    user = getattr(request, "user", None)
    if request.method != "POST" or user is None or not user.is_authenticated:
        return response
    if code and translation.check_for_language(code):  # what Django's view sets the cookie for
        try:
            code = translation.get_supported_language_variant(code)
        except LookupError:
            return response
        if is_language(code):
            remember(user, code)
    return response


class LoginView(auth_views.LoginView):
    """Django's login, which also sets the language cookie to the learner's chosen
    language: on a new browser or device the pages are in it from the first page after
    logging in, as they are where it was chosen. A learner who chose none keeps the
    browser's cookie, or none."""

    def form_valid(self, form):
        response = super().form_valid(form)
        code = chosen_language(form.get_user())
        if code and is_language(code):
            keep_in_cookie(response, code)
        return response
