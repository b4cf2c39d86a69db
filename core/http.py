"""Reading facts about the client from a request.

The client's IP comes from :func:`client_ip` alone: risk rules (through :func:`client_info`),
the API throttles, the login lockout (django-axes) and the logs all ask it, so they agree.
"""

import contextvars
import ipaddress
import logging
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ClientInfo:
    """What we know of the buyer's client, for risk rules and gateways."""

    ip: str | None = None
    device_id: str | None = None


UNKNOWN_CLIENT = ClientInfo()


def parse_trusted_proxies(entries) -> tuple[IPNetwork, ...]:
    """``KPAY_TRUSTED_PROXIES`` entries (IPs or CIDRs) as networks; a bad one is refused."""
    networks = []
    for entry in entries:
        entry = str(entry).strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as error:
            raise ImproperlyConfigured(
                f"KPAY_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network."
            ) from error
    return tuple(networks)


@lru_cache(maxsize=8)
def _trusted_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return parse_trusted_proxies(entries)


def _parse_ip(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from REMOTE_ADDR or one X-Forwarded-For hop (``1.2.3.4:80`` and
    ``[::1]:80`` lose their port); anything else is None."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_ip(request) -> str | None:
    """The client's IP address: REMOTE_ADDR, unless that is a trusted proxy
    (``settings.KPAY_TRUSTED_PROXIES``); then X-Forwarded-For is read from the right, each
    hop added by a trusted proxy replacing the address, stopping at the first address that
    is not a trusted proxy (the client as our outermost proxy saw it). Entries left of that
    were written by the client and are never believed. With no trusted proxies (the
    default) forwarding headers are ignored altogether."""
    meta = getattr(request, "META", {})
    address = _parse_ip(meta.get("REMOTE_ADDR"))
    if address is None:
        return None
    trusted = _trusted_networks(tuple(getattr(settings, "KPAY_TRUSTED_PROXIES", ()) or ()))
    if trusted:
        hops = [hop for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        for hop in reversed(hops):
            if not any(address in network for network in trusted):
                break
            previous = _parse_ip(hop)
            if previous is None:  # garbage where a proxy should have written an address
                break
            address = previous
    return str(address)


def client_info(request) -> ClientInfo:
    """The client's IP (:func:`client_ip`) and device id."""
    device_id = request.headers.get("X-Device-Id") or request.COOKIES.get("kpay_device") or None
    return ClientInfo(ip=client_ip(request), device_id=device_id)


_current_client_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "kpay_client_ip", default=None
)


class ClientIpMiddleware:
    """Makes the request's :func:`client_ip` known to the logs (:class:`ClientIpLogFilter`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current_client_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            _current_client_ip.reset(token)


class ClientIpLogFilter(logging.Filter):
    """Adds ``client_ip`` to every log record ("-" outside a request)."""

    def filter(self, record):
        if not hasattr(record, "client_ip"):
            request = getattr(record, "request", None)
            ip = client_ip(request) if hasattr(request, "META") else _current_client_ip.get()
            record.client_ip = ip or "-"
        return True


def next_url(request, default: str) -> str:
    """The ``next`` parameter (POST, then GET) if it points at this site, else ``default``
    (a URL, URL name or model), so a crafted link cannot send the learner elsewhere."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(default)
