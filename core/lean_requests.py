"""A lean request cycle for machine-to-machine URLs (gateway notifications).

Replaces, for views marked :func:`lean_request`, the half of ``MIDDLEWARE`` that serves
people: sessions, locale, CSRF, authentication and OTP, time zones, messages, clickjacking
headers and login lockouts. A gateway's notification has no cookie, no user, no language
and no browser, yet every one of those middlewares ran for it (about a third of the
webhook's Python time on the paid-order path, ``bench/paid_order.py``). The middlewares
before this one (request id and logs, metrics, security, static files, client IP) still
run; so does Django's exception handling around them.

Only paths under ``KPAY_LEAN_PATH_PREFIXES`` are resolved here, and only a view that
says it is lean (the decorator) takes this path: anything else goes on through the
whole stack as before.
"""

from django.conf import settings
from django.urls import Resolver404, get_urlconf, resolve

# Resolving the URL (a walk of every pattern before the webhooks') was about a twentieth
# of a notification's Python. A lean path's match depends only on the URLconf and the
# path: kept per process, for this many paths (one per gateway alias and kind in use;
# paths beyond it, e.g. made-up aliases, are resolved each time).
_MATCHES_KEPT = 64
_matches: dict[tuple, object] = {}


def lean_request(view):
    """Mark ``view`` as needing none of the people-facing middleware (no session, user,
    CSRF token, language or messages): it is served by :class:`LeanRequestMiddleware`."""
    view.lean_request = True
    return view


class LeanRequestMiddleware:
    """Calls a lean view directly, skipping the middlewares after this one."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.prefixes = tuple(getattr(settings, "KPAY_LEAN_PATH_PREFIXES", ()))

    def __call__(self, request):
        path = request.path_info
        if not self.prefixes or not path.startswith(self.prefixes):
            return self.get_response(request)
        key = (get_urlconf(), path)
        match = _matches.get(key)
        if match is None:
            try:
                match = resolve(path)
            except Resolver404:
                return self.get_response(request)
            if not getattr(match.func, "lean_request", False):
                return self.get_response(request)
            if len(_matches) < _MATCHES_KEPT:
                _matches[key] = match
        request.resolver_match = match
        return match.func(request, *match.args, **match.kwargs)
