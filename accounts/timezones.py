"""The time zone the site shows a learner's times in: their own (set on their profile),
else the site's (``TIME_ZONE``). Kept in the session at login, so a page costs no query."""

import zoneinfo
from functools import cache

from django.conf import settings
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.views import APIView

from .models import Profile

SESSION_KEY = "kpay_time_zone"

# Offered first: where most of the platform's learners are.
COMMON_TIME_ZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Sydney",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)


@cache
def all_time_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones())) or COMMON_TIME_ZONES


def time_zone_choices() -> list:
    """For a select: the common zones first, then every zone this machine knows."""
    return [
        (_("Common"), [(name, name) for name in COMMON_TIME_ZONES]),
        (_("All time zones"), [(name, name) for name in all_time_zones()]),
    ]


def is_time_zone(name: str) -> bool:
    return name in all_time_zones() or name in COMMON_TIME_ZONES


def time_zone_of(user) -> str:
    """The learner's chosen time zone, else the site's."""
    chosen = Profile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
    return chosen if chosen and is_time_zone(chosen) else settings.TIME_ZONE


def remember(request, name: str) -> None:
    request.session[SESSION_KEY] = name
    timezone.activate(zoneinfo.ZoneInfo(name))


def remember_at_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in`` receiver: one query at login instead of one per page. Only for
    a login into a session (the API's token login sends the signal too, and must not
    start a session: token clients would then load it on every request)."""
    session = getattr(request, "session", None)
    if session is not None and session.get(AUTH_SESSION_KEY) == str(user.pk):
        session[SESSION_KEY] = time_zone_of(user)


class TimeZoneMiddleware:
    """Shows the site's pages in the logged-in learner's time zone (after
    AuthenticationMiddleware). The JSON API keeps the site's zone (its times carry their
    offset) and is not slowed by it: a token client never loads a session here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def process_view(self, request, view_func, view_args, view_kwargs):
        if isinstance(getattr(view_func, "cls", None), type) and issubclass(view_func.cls, APIView):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        name = request.session.get(SESSION_KEY)
        if name is None or not is_time_zone(name):
            name = time_zone_of(user)
            request.session[SESSION_KEY] = name
        if name != settings.TIME_ZONE:
            timezone.activate(zoneinfo.ZoneInfo(name))
        return None
