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

**Withholding agreements (代扣)**, modelled on WeChat Pay's papay (a pre-charge notice
opens a window of charges) so that kpay's renewal schedule meets the same rules it must
follow with a real gateway:

* **Signing URL** (no server call, signed like the cashier URL): ``/agreements/sign/``
  with ``merchant_id, agreement_no`` (the merchant's number), ``amount`` (the most one
  charge may take, fen), ``currency``, ``period_unit`` (``DAY``/``MONTH``), ``period``,
  ``first_charge_date`` (``YYYY-MM-DD``), ``description, notify_url, return_url,
  timestamp, nonce`` and ``sign``. The payer signs or declines on the gateway's page,
  which is also their wallet's page of the agreement (end it, and, in the simulator,
  make charges fail for want of balance or answer later).
* **Agreement object**: ``merchant_id, agreement_no, agreement_id`` (the gateway's),
  ``state`` (``PENDING|ACTIVE|TERMINATED``), ``payer{id}``, ``amount{limit, currency}``,
  ``period{unit, count}``, ``signed_time, terminated_time``, ``terminated_by``
  (``MERCHANT|PAYER``).
* **Agreement notifications**: ``AGREEMENT.SIGNED`` and ``AGREEMENT.TERMINATED`` (either
  side) to the signing ``notify_url``, an agreement object as ``resource``, signed and
  retried like payment notifications.
* **API**: ``GET /api/agreements/{agreement_no}``; ``POST
  /api/agreements/{agreement_no}/terminate`` ``{agreement_id, reason}`` → 204 (an
  ended one too); ``POST /api/agreements/{agreement_id}/notices`` ``{amount{total,
  currency}, charge_date}`` → 204, the pre-charge notice; ``POST /api/charges``
  ``{agreement_id, out_trade_no, amount{total, currency}, description, notify_url}`` →
  a trade object: ``SUCCESS`` or ``PAYERROR`` (with ``failure{code, message}``) at once,
  or ``ACCEPT`` (processing: the result follows as a ``TRADE.*`` notification to the
  charge's ``notify_url``). One ``out_trade_no`` is charged at most once: asking again
  answers the same trade. Its query and close are the trade API's.
* **Rules** (:data:`WITHHOLDING_RULES`): notices and charges only
  08:00–22:00 Beijing time; a charge needs a notice of at least its amount sent at least
  one day before (the notice's day is a waiting day), and falls in the three days after
  it; one successful charge per notice; at most the agreement's limit and ¥5,000.
  Refusals: ``AGREEMENT_NOT_EXIST`` 404, ``AGREEMENT_NOT_ACTIVE`` 400, ``RULE_LIMIT`` 400
  (hours, notice, window, limit), ``PARAM_ERROR`` 400.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import time as clock_time

from payments.gateways.signing import unix_timestamp, verify_sha256_rsa
from payments.gateways.withholding import WithholdingRules

AUTH_SCHEME = "SANDBOX-SHA256-RSA"
MAX_CLOCK_SKEW = 300

WITHHOLDING_CHANNEL = "sandbox_withholding"
WITHHOLDING_RULES = WithholdingRules(
    charge_hours=(clock_time(8, 0), clock_time(22, 0)),
    timezone="Asia/Shanghai",
    notice_days=1,
    charge_window_days=3,
    min_period_days=1,
    max_amount=500_000,
)
AGREEMENT_STATES = ("PENDING", "ACTIVE", "TERMINATED")


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
