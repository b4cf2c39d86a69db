"""The server side of the signed ``Authorization`` header (WeChat Pay v3 and the sandbox
share its shape): what a gateway does with a merchant's request before trusting it."""

import time


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
