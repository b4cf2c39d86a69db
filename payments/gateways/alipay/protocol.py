"""Alipay open platform (RSA2) protocol pieces: sign strings, signatures, amounts, times.

The server side of the protocol (verifying requests, signing notifications and
answers) is the simulator's, in ``devtools``.

Protocol facts (from the open platform docs and the official SDKs), in short:

* **Requests**: common parameters ``app_id, method, format=JSON, charset=utf-8,
  sign_type=RSA2, timestamp (yyyy-MM-dd HH:mm:ss, Beijing time), version=1.0,
  notify_url[, return_url]`` and ``biz_content`` (a JSON string). The sign string is
  every parameter but ``sign`` (``sign_type`` included), empty values dropped, sorted,
  ``k=v`` joined by ``&`` with raw values; ``sign`` = SHA256withRSA with the app key.
  Like the official SDKs we send the common parameters in the query string and
  ``biz_content`` in a form body.
* **Responses**: ``{"<method with _>_response": {...}, "sign": "..."}``, the signature
  over the *exact text* of the ``_response`` object. ``code`` 10000 is success, 20000
  "try again", 40004 a business failure with an ``ACQ.*`` ``sub_code``.
* **Notifications**: form-encoded POST; the sign string leaves out both ``sign`` and
  ``sign_type``. Acknowledged by the exact body ``success``.
* **Amounts** are yuan strings with two decimals, converted at this edge with
  ``core.money.fen_to_yuan`` / ``yuan_to_fen`` (exact, never rounded).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from django.utils import timezone

from payments.exceptions import InvalidResponse
from payments.gateways.signing import sign_sha256_rsa, verify_sha256_rsa

GATEWAY_URL = "https://openapi.alipay.com/gateway.do"
SHANGHAI = ZoneInfo("Asia/Shanghai")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

SUCCESS_CODE = "10000"
UNAVAILABLE_CODE = "20000"
BUSINESS_FAILURE_CODE = "40004"

PRODUCT_CODES = {
    "alipay.trade.precreate": "FACE_TO_FACE_PAYMENT",
    "alipay.trade.page.pay": "FAST_INSTANT_TRADE_PAY",
    "alipay.trade.wap.pay": "QUICK_WAP_WAY",
}
CHANNEL_METHODS = {
    "alipay_qr": "alipay.trade.precreate",
    "alipay_page": "alipay.trade.page.pay",
    "alipay_wap": "alipay.trade.wap.pay",
}


def alipay_timestamp(at: datetime | None = None) -> str:
    return (at or timezone.now()).astimezone(SHANGHAI).strftime(TIMESTAMP_FORMAT)


# Alipay re-sends an unacknowledged notification (same notify_id) for 24 h 22 min: eight
# deliveries within 25 h, after 4m, 10m, 10m, 1h, 2h, 6h, 15h (some documents: 2m first,
# and three quick re-sends before that). Its notify_time may be the first delivery's, so
# every genuine retry is at most about 25 h older than notify_time; the window adds an
# hour's margin for Alipay's own delays and our clock. A notification dated in the
# future by more than the clock skew is no genuine one either.
NOTIFY_MAX_AGE = timedelta(hours=26)
NOTIFY_MAX_CLOCK_SKEW = timedelta(minutes=10)


def notify_time_problem(value: str, *, now: datetime) -> str:
    """Why a signed notification's ``notify_time`` (Beijing time) shows it is not a
    delivery Alipay would still be making (a replay of an old one), or "" if it could be."""
    sent = parse_alipay_time(value) if isinstance(value, str) else None
    if sent is None:
        return "notify_time missing or malformed"
    if sent > now + NOTIFY_MAX_CLOCK_SKEW:
        return "notify_time in the future"
    if sent < now - NOTIFY_MAX_AGE:
        return "notify_time older than Alipay's retry schedule"
    return ""


def parse_alipay_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=SHANGHAI)
    except ValueError:
        return None


def _sign_string(params: Mapping[str, str], leave_out: tuple[str, ...]) -> bytes:
    pairs = sorted(
        (str(k), str(v)) for k, v in params.items() if k not in leave_out and v is not None and str(v) != ""
    )
    return "&".join(f"{k}={v}" for k, v in pairs).encode()


def request_sign_string(params: Mapping[str, str]) -> bytes:
    """Requests (and return_url parameters): everything but ``sign``; ``sign_type`` stays in."""
    return _sign_string(params, ("sign",))


def notify_sign_string(params: Mapping[str, str]) -> bytes:
    """Async notifications: ``sign`` and ``sign_type`` both left out."""
    return _sign_string(params, ("sign", "sign_type"))


def sign_request_params(private_key, params: Mapping[str, str]) -> dict[str, str]:
    signed = {k: str(v) for k, v in params.items() if v is not None and str(v) != ""}
    signed["sign"] = sign_sha256_rsa(private_key, request_sign_string(signed))
    return signed


def verify_notify_params(public_key, params: Mapping[str, str]) -> bool:
    return verify_sha256_rsa(public_key, notify_sign_string(params), params.get("sign", ""))


def response_key(method: str) -> str:
    return method.replace(".", "_") + "_response"


def top_level_members(text: str) -> dict[str, tuple[int, int]]:
    """The top-level members of a JSON object text: name -> (start, end) of the value's
    exact text. Raises ValueError if ``text`` is not one JSON object."""
    decoder = json.JSONDecoder()
    members: dict[str, tuple[int, int]] = {}

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    i = skip(0)
    if text[i : i + 1] != "{":
        raise ValueError("not a JSON object")
    i = skip(i + 1)
    if text[i : i + 1] == "}":
        return members
    while True:
        name, i = decoder.raw_decode(text, i)
        if not isinstance(name, str):
            raise ValueError("member name is not a string")
        i = skip(i)
        if text[i : i + 1] != ":":
            raise ValueError("expected ':'")
        start = skip(i + 1)
        _value, end = decoder.raw_decode(text, start)
        members[name] = (start, end)
        i = skip(end)
        if text[i : i + 1] == ",":
            i = skip(i + 1)
            continue
        if text[i : i + 1] == "}" and not text[skip(i + 1) :]:
            return members
        raise ValueError("malformed JSON object")


def verified_response(public_key, method: str, text: str) -> dict:
    """The ``_response`` object of ``text``, after checking Alipay's signature over its
    exact text (never a re-serialization). Raises InvalidResponse."""
    try:
        members = top_level_members(text)
    except ValueError as exc:
        raise InvalidResponse(f"alipay response is not JSON: {exc}") from exc
    key = response_key(method) if response_key(method) in members else "error_response"
    if key not in members:
        raise InvalidResponse("alipay response has no response object")
    start, end = members[key]
    exact = text[start:end]
    if "sign" not in members:
        raise InvalidResponse("alipay response is not signed")
    signature = json.loads(text[slice(*members["sign"])])
    if not isinstance(signature, str) or not verify_sha256_rsa(public_key, exact.encode(), signature):
        raise InvalidResponse("alipay response: bad signature")
    data = json.loads(exact)
    if not isinstance(data, dict):
        raise InvalidResponse("alipay response object is not an object")
    return data


def form_params(body: bytes) -> dict[str, str]:
    text = body.decode("utf-8")
    return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
