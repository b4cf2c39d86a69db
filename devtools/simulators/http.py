"""The server side of a merchant's signed API call (WeChat Pay v3 and the sandbox share
the shape of the ``Authorization`` header): what a gateway does before trusting it, and
the keys a simulated gateway holds."""

import time
from collections.abc import Callable
from functools import cache, wraps

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from devtools.keys import ensure_dev_keypair
from payments.gateways.signing import load_private_key, load_public_key


def parse_authorization(header: str, scheme: str) -> dict[str, str]:
    """The fields of ``SCHEME k1="v1",k2="v2"``; empty for another scheme."""
    given_scheme, _, rest = header.partition(" ")
    if given_scheme != scheme:
        return {}
    fields = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value.strip('"')
    return fields


def fresh_authorization(request, *, scheme: str, required: tuple[str, ...], max_skew: int) -> dict | None:
    """The request's Authorization fields when ``required`` ones are there and its
    ``timestamp`` is within ``max_skew`` seconds of now; None otherwise. The caller
    still checks the signature."""
    fields = parse_authorization(request.headers.get("Authorization", ""), scheme)
    timestamp = fields.get("timestamp", "")
    if not (all(fields.get(name) for name in required) and timestamp.isdigit()):
        return None
    if abs(time.time() - int(timestamp)) >= max_skew:
        return None
    return fields


def merchant_api(authenticate: Callable, refused: Callable[[], HttpResponse]):
    """A decorator for the API views a merchant calls: ``authenticate(request)`` names
    the merchant (None when the signature fails: then ``refused()`` answers), and the
    view is called as ``view(request, merchant, ...)``."""

    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            merchant = authenticate(request)
            if merchant is None:
                return refused()
            return view(request, merchant, *args, **kwargs)

        return wrapped

    return decorator


def gateway_keys(gateway_pair: str, merchant_pair: str) -> tuple[RSAPrivateKey, RSAPublicKey]:
    """The simulated gateway's private key and the merchant's public key (key pair names
    of :mod:`devtools.keys`), from ``KPAY_KEY_DIR``."""
    return _gateway_keys(str(settings.KPAY_KEY_DIR), gateway_pair, merchant_pair)


@cache
def _gateway_keys(key_dir: str, gateway_pair: str, merchant_pair: str) -> tuple[RSAPrivateKey, RSAPublicKey]:
    gateway_private, _ = ensure_dev_keypair(key_dir, gateway_pair)
    _, merchant_public = ensure_dev_keypair(key_dir, merchant_pair)
    return load_private_key(gateway_private), load_public_key(merchant_public)
