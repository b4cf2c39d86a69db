"""Alipay's side of the open platform protocol, which only the simulator plays: verifying
a merchant's signed request, signing notifications and answers. The merchant's side
is :mod:`payments.gateways.alipay.protocol`."""

import json
from collections.abc import Mapping

from payments.gateways.alipay.protocol import notify_sign_string, request_sign_string, response_key
from payments.gateways.signing import sign_sha256_rsa, verify_sha256_rsa


def verify_request_params(public_key, params: Mapping[str, str]) -> bool:
    return verify_sha256_rsa(public_key, request_sign_string(params), params.get("sign", ""))


def sign_notify_params(private_key, params: Mapping[str, str]) -> dict[str, str]:
    signed = {k: str(v) for k, v in params.items() if v is not None and str(v) != ""}
    signed["sign_type"] = "RSA2"
    signed["sign"] = sign_sha256_rsa(private_key, notify_sign_string(signed))
    return signed


def signed_response_text(private_key, method: str, payload: Mapping) -> str:
    """What Alipay answers: the ``_response`` object and the signature over its exact text."""
    inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    signature = sign_sha256_rsa(private_key, inner.encode())
    return f'{{"{response_key(method)}":{inner},"sign":{json.dumps(signature)}}}'
