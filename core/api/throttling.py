"""DRF throttles keyed on :func:`core.http.client_ip`, not DRF's own reading of
X-Forwarded-For (which believes whatever the client sends when ``NUM_PROXIES`` is unset)."""

from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

from core.http import client_ip


class ClientIpThrottleMixin:
    def get_ident(self, request):
        return client_ip(request) or "unknown"


class ClientIpScopedRateThrottle(ClientIpThrottleMixin, ScopedRateThrottle):
    """``throttle_scope`` on the view; anonymous clients are counted per :func:`client_ip`."""


class ClientIpAnonRateThrottle(ClientIpThrottleMixin, AnonRateThrottle):
    pass


class ClientIpUserRateThrottle(ClientIpThrottleMixin, UserRateThrottle):
    pass
