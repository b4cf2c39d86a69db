"""The gateway contract: what every payment gateway backend offers kpay.

Backends speak their vendor's protocol and convert units; everything above them
sees these dataclasses (amounts always in integer minor units) and
:mod:`payments.exceptions` errors only.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from payments.exceptions import GatewayUnavailable, PaymentError
from payments.exchanges import exchange_record

logger = logging.getLogger("payments.gateways")


class TradeState(enum.StrEnum):
    PENDING = "pending"  # created, not paid yet (or paying)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the payer's attempt failed; may still be paid later on some gateways
    CLOSED = "closed"
    REFUNDED = "refunded"  # paid, then (partly) refunded
    NOT_FOUND = "not_found"  # the gateway has never seen this trade


class RefundState(enum.StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class NotificationKind(enum.StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


@dataclass(frozen=True)
class PaymentRequest:
    payment_no: str
    amount: int
    currency: str
    description: str
    channel: str
    notify_url: str
    return_url: str
    expires_at: datetime
    client_ip: str | None = None
    payer_id: str | None = None  # e.g. WeChat openid for in-app payments


@dataclass(frozen=True)
class PaymentAction:
    """What the learner's client needs to pay: a QR code, a redirect, or SDK parameters."""

    kind: str  # "qr" | "redirect" | "jsapi"
    code_url: str = ""
    redirect_url: str = ""
    client_params: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "code_url": self.code_url,
            "redirect_url": self.redirect_url,
            "client_params": dict(self.client_params),
        }


@dataclass(frozen=True)
class TradeStatus:
    payment_no: str
    state: TradeState
    gateway_txn_id: str = ""
    amount: int | None = None
    currency: str = ""
    paid_at: datetime | None = None
    payer_id: str = ""
    merchant_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundRequest:
    refund_no: str
    payment_no: str
    gateway_txn_id: str
    amount: int
    total: int
    currency: str
    reason: str
    notify_url: str


@dataclass(frozen=True)
class RefundStatus:
    refund_no: str
    state: RefundState
    gateway_refund_id: str = ""
    amount: int | None = None
    message: str = ""


@dataclass(frozen=True)
class Notification:
    """A verified notification, in kpay's terms."""

    event_id: str
    event_type: str
    kind: NotificationKind
    trade_no: str  # our payment_no
    state: TradeState | RefundState
    amount: int
    currency: str
    gateway_txn_id: str = ""
    refund_no: str = ""
    payer_id: str = ""
    occurred_at: datetime | None = None
    # Whose account the gateway says this is: compared with the gateway's configuration.
    merchant_ids: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping = field(default_factory=dict)


@dataclass(frozen=True)
class NotificationReply:
    """The HTTP answer a gateway expects to a notification."""

    status: int
    body: bytes
    content_type: str


class Gateway:
    """Base class of gateway backends. Subclasses set ``channels`` and implement the calls.

    A backend is built once per process from ``KPAY_GATEWAYS[alias]["OPTIONS"]`` and
    shared, so it must be thread-safe (httpx clients are).
    """

    channels: tuple[str, ...] = ()
    # What learners see for each channel, e.g. {"wechat_native": _("WeChat Pay")}.
    channel_labels: Mapping[str, str] = {}
    # Channels that need the payer's identity at the gateway (e.g. a WeChat openid).
    payer_id_channels: frozenset[str] = frozenset()
    timeout = httpx.Timeout(10.0, connect=5.0)

    def __init__(self, alias: str, **options):
        self.alias = alias

    # -- identity ---------------------------------------------------------------
    @property
    def merchant_ids(self) -> Mapping[str, str]:
        """Our account ids at this gateway; a notification must carry exactly these."""
        raise NotImplementedError

    @classmethod
    def check_options(cls, options: Mapping) -> list[str]:
        """Problems with ``options``, as sentences, for the system check. Empty when fine."""
        return []

    # -- calls ------------------------------------------------------------------
    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        raise NotImplementedError

    def query_payment(self, payment_no: str) -> TradeStatus:
        raise NotImplementedError

    def close_payment(self, payment_no: str) -> None:
        """Close an unpaid trade. Closing an unknown or closed trade is fine; a paid one
        raises :class:`~payments.exceptions.TradeAlreadyPaid`."""
        raise NotImplementedError

    def refund(self, request: RefundRequest) -> RefundStatus:
        raise NotImplementedError

    def query_refund(self, refund_no: str, *, payment_no: str) -> RefundStatus:
        raise NotImplementedError

    def fetch_bill(self, bill_date) -> bytes:
        raise NotImplementedError(f"{type(self).__name__} has no bills")

    # -- notifications ----------------------------------------------------------
    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify and decode; raise :class:`~payments.exceptions.InvalidNotification`."""
        raise NotImplementedError

    def notification_reply(self, *, ok: bool, message: str = "") -> NotificationReply:
        raise NotImplementedError

    # -- plumbing for HTTP backends ----------------------------------------------
    def _send(
        self, client: httpx.Client, operation: str, request: httpx.Request, *, trade_no: str = ""
    ) -> httpx.Response:
        """Send ``request`` and keep the exchange; network trouble is GatewayUnavailable."""
        started = time.monotonic()
        response = None
        error = ""
        try:
            response = client.send(request)
            return response
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:255]
            raise GatewayUnavailable() from exc
        finally:
            exchange_record(
                gateway=self.alias,
                operation=operation,
                trade_no=trade_no,
                request=request,
                response=response,
                error=error,
                duration_ms=int((time.monotonic() - started) * 1000),
            )


__all__ = [
    "Gateway",
    "Notification",
    "NotificationKind",
    "NotificationReply",
    "PaymentAction",
    "PaymentError",
    "PaymentRequest",
    "RefundRequest",
    "RefundState",
    "RefundStatus",
    "TradeState",
    "TradeStatus",
]
