"""The languages the site speaks (``LANGUAGES``) and the one a learner chose: their
profile's, else the site's (``LANGUAGE_CODE``). For what is written outside a request, a
refund or renewal e-mail: ``with translation.override(language_of(learner)): ...``."""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist


def language_choices() -> list[tuple[str, str]]:
    """For a model or form field: the site's languages, by their own names."""
    return list(settings.LANGUAGES)


def is_language(code) -> bool:
    """Whether ``code`` is one of the site's languages, exactly as ``LANGUAGES`` spells it."""
    return isinstance(code, str) and code in dict(settings.LANGUAGES)


def language_of(user) -> str:
    """The learner's chosen language, else the site's. Reads ``user.profile``: no query when
    it was loaded with the user (``select_related("learner__profile")``), one otherwise; a
    learner without a profile, or an anonymous visitor, gets the site's language."""
    try:
        chosen = user.profile.language
    except (ObjectDoesNotExist, AttributeError):
        chosen = ""
    return chosen if is_language(chosen) else settings.LANGUAGE_CODE
