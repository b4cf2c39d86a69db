"""The gateway contract: what every payment gateway backend offers kpay.

Backends speak their vendor's protocol and convert units; everything above them
sees these dataclasses (amounts always in integer minor units) and
:mod:`payments.exceptions` errors only.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import BinaryIO

import httpx
from django.utils.translation import gettext_lazy as _

from payments.exceptions import InvalidNotification, PaymentError

from . import http

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
    # Why the gateway refused the attempt (state FAILED), in its own words, e.g. a charge
    # under a withholding agreement: "ACQ.BUYER_BALANCE_NOT_ENOUGH" and its message.
    failure_code: str = ""
    failure_message: str = ""


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

    def __post_init__(self):
        """A verified body can still carry the wrong JSON types (a number for an event
        type, a list for a resource): refuse them here, before anything is written, so
        the gateway gets its "rejected" reply instead of a 500 and nothing is half-done."""
        problem = _notification_type_problem(self)
        if problem:
            raise InvalidNotification(f"malformed notification: {problem}")


_NOTIFICATION_TEXT_FIELDS = (
    "event_id",
    "event_type",
    "trade_no",
    "currency",
    "gateway_txn_id",
    "refund_no",
    "payer_id",
)


def _notification_type_problem(notification: Notification) -> str:
    for name in _NOTIFICATION_TEXT_FIELDS:
        value = getattr(notification, name)
        if not isinstance(value, str):
            return f"{name} is not a string"
    if not (notification.event_id and notification.trade_no):
        return "event id or trade number missing"
    if not isinstance(notification.kind, NotificationKind):
        return "unknown kind"
    states = TradeState if notification.kind == NotificationKind.PAYMENT else RefundState
    if not isinstance(notification.state, states):
        return "unknown state"
    if isinstance(notification.amount, bool) or not isinstance(notification.amount, int):
        return "amount is not an integer"
    if not 0 <= notification.amount <= MAX_NOTIFIED_AMOUNT:
        return "amount out of range"
    if notification.occurred_at is not None and not isinstance(notification.occurred_at, datetime):
        return "time is not a time"
    if not isinstance(notification.merchant_ids, Mapping) or not all(
        isinstance(value, str) for value in notification.merchant_ids.values()
    ):
        return "merchant ids are not strings"
    if not isinstance(notification.payload, Mapping):
        return "payload is not an object"
    return ""


# Above any amount a BigIntegerField holds comfortably and far above any real payment.
MAX_NOTIFIED_AMOUNT = 10**15


def require_json_types(data, spec: Mapping[str, type | tuple], *, where: str = "notification") -> None:
    """Refuse (``InvalidNotification``) a decoded JSON object whose fields named in
    ``spec`` are present with another type (``int`` excludes ``bool``). A missing field
    is left to the caller (it knows which are required)."""
    if not isinstance(data, Mapping):
        raise InvalidNotification(f"malformed {where}: not an object")
    for name, expected in spec.items():
        if name not in data or data[name] is None:
            continue
        value = data[name]
        if isinstance(value, bool) and expected in (int, (int,)):
            raise InvalidNotification(f"malformed {where}: {name} is not a number")
        if not isinstance(value, expected):
            raise InvalidNotification(f"malformed {where}: {name} has the wrong type")


# -- bills ------------------------------------------------------------------------------
class InvalidBill(PaymentError):
    """A file that is not a readable bill of the gateway (wrong gateway, wrong format,
    damaged). The message says what is wrong and may be shown to staff."""

    code = "invalid_bill"
    message = _("This file is not a bill of this gateway.")


class BillLineKind(enum.StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"
    INVALID = "invalid"  # a line that could not be read: ``problem`` says why


@dataclass(frozen=True, slots=True)
class BillLine:
    """One line of a gateway's trade bill, in kpay's terms (amounts in fen).

    ``amount`` is the payment's total, or the refund's amount (positive either way);
    ``fee`` is the gateway's fee on the line, positive when charged and negative when
    given back (on refunds). ``status`` is the gateway's own word for the line;
    ``succeeded`` says whether it reports money moved (paid, or refunded).
    """

    kind: BillLineKind
    line_no: int
    trade_no: str = ""  # our payment_no (out_trade_no)
    txn_id: str = ""  # the gateway's trade id
    amount: int = 0
    fee: int = 0
    status: str = ""
    succeeded: bool = True
    refund_no: str = ""  # our refund_no
    refund_id: str = ""  # the gateway's refund id, when it has one
    at: datetime | None = None
    problem: str = ""

    @classmethod
    def invalid(cls, line_no: int, problem: str, **fields) -> BillLine:
        """A line that could not be read; ``problem`` says why."""
        return cls(kind=BillLineKind.INVALID, line_no=line_no, problem=problem, **fields)


@dataclass(frozen=True)
class BillSummary:
    """What the bill says of itself (its totals lines); None where it says nothing."""

    lines: int | None = None
    payment_lines: int | None = None
    refund_lines: int | None = None
    payments_total: int | None = None
    refunds_total: int | None = None
    fees_total: int | None = None


@dataclass(frozen=True)
class BillFile:
    """What :meth:`Gateway.fetch_bill` wrote into the caller's file."""

    filename: str
    size: int  # bytes written
    empty: bool = False  # the gateway has no bill for the day because nothing happened


class BillReader:
    """Streams the lines of one bill. Iterate once; afterwards ``summary`` holds the
    bill's own totals (None when it has none). ``has_refunds`` is False for bill
    variants that leave refunds out (e.g. WeChat Pay's SUCCESS bill)."""

    has_refunds: bool = True
    summary: BillSummary | None = None
    summary_problem: str = ""  # why the totals could not be read, when they could not
    expects_summary: bool = True  # a bill of this kind ends with its totals

    def __iter__(self) -> Iterator[BillLine]:
        raise NotImplementedError


class EmptyBill(BillReader):
    """The bill of a day without trades."""

    expects_summary = False

    def __iter__(self) -> Iterator[BillLine]:
        return iter(())


def bill_format(source: BinaryIO) -> str:
    """``"gzip"``, ``"zip"`` or ``"plain"``, from the file's first bytes (then rewound)."""
    start = source.tell()
    magic = source.read(4)
    source.seek(start)
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    if magic == b"PK\x03\x04":
        return "zip"
    return "plain"


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

    # -- bills ------------------------------------------------------------------
    @property
    def has_bills(self) -> bool:
        """Whether this backend offers daily trade bills (it implements fetch_bill)."""
        return type(self).fetch_bill is not Gateway.fetch_bill

    def fetch_bill(self, bill_date: date, into: BinaryIO) -> BillFile:
        """Download the trade bill of ``bill_date`` (the gateway's day, Beijing time for
        Chinese gateways) into ``into``, a binary file, streamed in chunks (bills can be
        hundreds of megabytes), as the gateway delivers it (compressed stays
        compressed), after checking any digest the gateway gives. A day without
        trades returns an ``empty`` BillFile. Read it with :meth:`read_bill`."""
        raise NotImplementedError(f"{type(self).__name__} has no bills")

    def read_bill(self, source: BinaryIO) -> BillReader:
        """A streaming reader of a bill file (as fetched, or uploaded by staff: compressed
        or not). ``source`` is a seekable binary file. The header is checked at once:
        raises :class:`InvalidBill` if this is not one of this gateway's bills."""
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
        return http.send(client, gateway=self.alias, operation=operation, request=request, trade_no=trade_no)


__all__ = [
    "BillFile",
    "BillLine",
    "BillLineKind",
    "BillReader",
    "BillSummary",
    "EmptyBill",
    "Gateway",
    "InvalidBill",
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
