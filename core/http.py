"""Reading facts about the client from a request."""

from dataclasses import dataclass

from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


@dataclass(frozen=True)
class ClientInfo:
    """What we know of the buyer's client, for risk rules and gateways."""

    ip: str | None = None
    device_id: str | None = None


UNKNOWN_CLIENT = ClientInfo()


def client_info(request) -> ClientInfo:
    """The client's IP (REMOTE_ADDR: set the proxy to pass the real one) and device id."""
    device_id = request.headers.get("X-Device-Id") or request.COOKIES.get("kpay_device") or None
    return ClientInfo(ip=request.META.get("REMOTE_ADDR") or None, device_id=device_id)


def next_url(request, default: str) -> str:
    """The ``next`` parameter (POST, then GET) if it points at this site, else ``default``
    (a URL, URL name or model), so a crafted link cannot send the learner elsewhere."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(default)
