"""The sandbox protocol: kpay's own simulated third-party gateway, for the demo and tests.

It is spoken to exactly like a real gateway, over HTTP, with signatures both ways.
The protocol (modelled on WeChat Pay v3, with an Alipay-style signed cashier URL):

* **Cashier URL** (no server call to create a payment): the parameters below, signed
  by the merchant: ``sign`` = SHA256withRSA over the ``k=v`` pairs, sorted by key,
  empty values and ``sign`` left out, joined with ``&``. The learner opens it (QR
  code), and the gateway's cashier page creates the trade and lets them pay or decline.
* **API requests** (merchant → gateway) carry
  ``Authorization: SANDBOX-SHA256-RSA merchant_id="…",timestamp="…",nonce="…",signature="…"``
  over ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n``.
* **Responses and notifications** (gateway → merchant) carry ``Sandbox-Timestamp``,
  ``Sandbox-Nonce`` and ``Sandbox-Signature`` over ``TIMESTAMP\\nNONCE\\nBODY\\n``, signed
  with the gateway's key; older or newer than 300 s is rejected.
* **Notifications**: ``POST`` JSON ``{id, event_type, create_time, resource}`` where
  ``event_type`` is ``TRADE.SUCCESS``, ``TRADE.FAILED`` or ``REFUND.SUCCESS`` and
  ``resource`` is a trade (or refund) object. Acknowledge with 2xx; anything else is
  retried on the gateway's schedule.
* **Trade object**: ``merchant_id, out_trade_no, transaction_id, trade_state
  (NOTPAY|SUCCESS|PAYERROR|CLOSED|REFUND), amount{total, currency}, payer{id},
  success_time``. Errors: ``{"code", "message"}`` with 4xx (``SIGN_ERROR`` 401,
  ``TRADE_NOT_EXIST`` 404, ``TRADE_PAID`` 400, ``PARAM_ERROR`` 400).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from payments.gateways.signing import unix_timestamp, verify_sha256_rsa

AUTH_SCHEME = "SANDBOX-SHA256-RSA"
MAX_CLOCK_SKEW = 300


def params_sign_string(params: Mapping[str, str]) -> bytes:
    pairs = sorted((k, str(v)) for k, v in params.items() if k != "sign" and v not in ("", None))
    return "&".join(f"{k}={v}" for k, v in pairs).encode()


def request_message(method: str, path_and_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return b"%s\n%s\n%s\n%s\n%s\n" % (
        method.encode(),
        path_and_query.encode(),
        timestamp.encode(),
        nonce.encode(),
        body,
    )


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return b"%s\n%s\n%s\n" % (timestamp.encode(), nonce.encode(), body)


def verify_signed_headers(public_key, headers: Mapping[str, str], body: bytes) -> str | None:
    """Why ``headers`` do not prove ``body`` came from the gateway, or None if they do."""
    timestamp = headers.get("Sandbox-Timestamp", "")
    nonce = headers.get("Sandbox-Nonce", "")
    signature = headers.get("Sandbox-Signature", "")
    seconds = unix_timestamp(timestamp)
    if not (timestamp and nonce and signature):
        return "missing signature headers"
    if seconds is None:
        return "malformed timestamp"
    if abs(time.time() - seconds) >= MAX_CLOCK_SKEW:
        return "stale timestamp"
    if not verify_sha256_rsa(public_key, response_message(timestamp, nonce, body), signature):
        return "bad signature"
    return None
