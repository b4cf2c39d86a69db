"""The withholding contract (代扣, automatic renewal): what a gateway that can charge a
payer without their interaction, under an agreement they signed, offers kpay.

A gateway backend that supports it subclasses both :class:`~payments.gateways.base.Gateway`
and :class:`Withholding`. Everything above the backends sees these dataclasses (amounts in
fen, times aware) and :mod:`payments.exceptions` errors only, as for payments:

- **signing**: :meth:`Withholding.agreement_sign` returns what the learner's client opens to
  sign (a page to redirect to, or a QR code); the result arrives as an agreement
  notification (:meth:`Withholding.parse_agreement_notification`) and can be asked for
  (:meth:`Withholding.agreement_query`).
- **charging**: before each charge, :meth:`Withholding.charge_notice` (WeChat Pay's
  预扣费通知; a no-op where the gateway has none: kpay e-mails the learner anyway); then
  :meth:`Withholding.charge` with a kpay payment number, whose result comes back either at
  once (a final :class:`~payments.gateways.base.TradeStatus`) or later as a payment
  notification, parsed by :meth:`Withholding.parse_charge_notification` at the gateway's
  withholding notification URL, and can be asked for with :meth:`Withholding.query_charge`.
- **termination**: :meth:`Withholding.agreement_terminate` (from kpay's side); the payer's
  own termination in their wallet arrives as an agreement notification.

Rules that differ by gateway (the hours in which charges are allowed, how long before a
charge the notice must go, per-charge caps, the shortest period) are
:class:`WithholdingRules`, read by the renewal schedule, not hard-coded above the backends.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time

from .base import Notification, NotificationReply, PaymentAction, TradeStatus


class AgreementState(enum.StrEnum):
    PENDING = "pending"  # asked for, not signed (yet)
    ACTIVE = "active"  # signed: charges are allowed
    TERMINATED = "terminated"  # ended, from either side
    NOT_FOUND = "not_found"  # the gateway has never seen it


class PeriodUnit(enum.StrEnum):
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True)
class AgreementRequest:
    """What kpay asks the payer to sign: charges of at most ``amount`` fen every
    ``period`` ``period_unit``s, the first of them on ``first_charge_on``."""

    agreement_no: str  # kpay's number for the agreement (the gateway's contract code / external_agreement_no)
    channel: str  # a withholding channel of the backend, e.g. "alipay_agreement"
    description: str  # what the payer sees, e.g. "Annual membership of <merchant>"
    amount: int  # fen, the most one charge may take
    currency: str
    period_unit: PeriodUnit
    period: int
    first_charge_on: date
    notify_url: str  # where agreement notifications go
    return_url: str  # where the payer's browser returns after signing
    client_ip: str | None = None
    payer_id: str | None = None  # e.g. WeChat openid, where the gateway needs it


@dataclass(frozen=True)
class AgreementStatus:
    agreement_no: str
    state: AgreementState
    gateway_agreement_id: str = ""  # WeChat Pay contract_id, Alipay agreement_no
    payer_id: str = ""
    signed_at: datetime | None = None
    terminated_at: datetime | None = None
    merchant_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AgreementNotification:
    """A verified agreement notification (signed, or terminated by either side)."""

    event_id: str
    agreement_no: str  # kpay's number
    state: AgreementState
    gateway_agreement_id: str = ""
    payer_id: str = ""
    occurred_at: datetime | None = None
    by_payer: bool = False  # terminated from the payer's side (their wallet)
    merchant_ids: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping = field(default_factory=dict)


@dataclass(frozen=True)
class ChargeNotice:
    """The notice owed to the payer before a charge (WeChat Pay 预扣费通知)."""

    gateway_agreement_id: str
    amount: int  # fen
    currency: str
    charge_on: date  # the day the charge is planned for (gateway's time zone)
    description: str = ""


@dataclass(frozen=True)
class ChargeRequest:
    """One charge under an active agreement, for one kpay payment."""

    payment_no: str  # kpay's payment number: one payment per renewal period, so a retry reuses it
    gateway_agreement_id: str
    amount: int  # fen
    currency: str
    description: str
    notify_url: str  # where the charge's payment notification goes
    client_ip: str | None = None


@dataclass(frozen=True)
class WithholdingRules:
    """What a gateway allows, for the renewal schedule to respect."""

    charge_hours: tuple[time, time] = (time(0, 0), time(23, 59, 59))  # gateway's local time
    timezone: str = "Asia/Shanghai"
    notice_days: int = 0  # whole days between the notice and the first charge attempt
    charge_window_days: int = 1  # days, from the scheduled date, in which a charge may be made
    min_period_days: int = 1
    max_amount: int | None = None  # per-charge cap the gateway imposes (fen), if any
    # Days *before* the scheduled date from which a charge is already accepted; with
    # ``charge_window_days`` the window is [date - early days, date + window days - 1]
    # (Alipay's 周期扣款: 3 days early, up to the date itself).
    charge_early_days: int = 0
    # Monthly periods: the latest day of the month a charge may be scheduled on (Alipay: 28).
    last_monthly_charge_day: int = 31


class Withholding:
    """Mixin of the gateway backends that support withholding agreements."""

    # Channels that name a withholding product of this backend, e.g. ("alipay_agreement",).
    withholding_channels: tuple[str, ...] = ()
    withholding_rules = WithholdingRules()

    # -- agreements -------------------------------------------------------------
    def agreement_sign(self, request: AgreementRequest) -> PaymentAction:
        """What the payer's client opens to sign: a redirect (``kind="redirect"``) or a
        QR code. Nothing is signed until the agreement notification (or a query) says so."""
        raise NotImplementedError

    def agreement_query(self, agreement_no: str) -> AgreementStatus:
        raise NotImplementedError

    def agreement_terminate(self, *, agreement_no: str, gateway_agreement_id: str, reason: str) -> None:
        """End the agreement from kpay's side. Terminating an ended one is fine."""
        raise NotImplementedError

    def agreement_reschedule(
        self, *, agreement_no: str, gateway_agreement_id: str, next_charge_on: date
    ) -> None:
        """Move the next charge of an active agreement to ``next_charge_on`` (a later day),
        where the gateway keeps a charge schedule of its own and refuses charges outside it
        (Alipay's execution plan: retrying a failed charge after its scheduled day needs
        this). A no-op where the gateway keeps no schedule."""

    def parse_agreement_notification(self, headers: Mapping[str, str], body: bytes) -> AgreementNotification:
        """Verify and decode; raise :class:`~payments.exceptions.InvalidNotification`."""
        raise NotImplementedError

    def agreement_notification_reply(self, *, ok: bool, message: str = "") -> NotificationReply:
        raise NotImplementedError

    # -- charges ----------------------------------------------------------------
    def charge_notice(self, notice: ChargeNotice) -> None:
        """Tell the payer of the coming charge where the gateway requires it (no-op
        otherwise)."""

    def charge(self, request: ChargeRequest) -> TradeStatus:
        """Ask for the charge. Returns the trade's state as the gateway answered: final
        (``SUCCEEDED`` / ``FAILED``) when it answers at once, else ``PENDING`` and the
        result comes as a notification. Asking again with the same ``payment_no`` never
        charges twice (the gateway's own idempotency on the trade number)."""
        raise NotImplementedError

    def query_charge(self, payment_no: str) -> TradeStatus:
        """A charge's state at the gateway (by default the gateway's usual trade query)."""
        return self.query_payment(payment_no)  # type: ignore[attr-defined]

    def parse_charge_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """A charge's payment notification, verified (by default the gateway's usual one)."""
        return self.parse_notification(headers, body)  # type: ignore[attr-defined]

    def charge_notification_reply(self, *, ok: bool, message: str = "") -> NotificationReply:
        return self.notification_reply(ok=ok, message=message)  # type: ignore[attr-defined]


def supports_withholding(gateway) -> bool:
    return isinstance(gateway, Withholding)


__all__ = [
    "AgreementNotification",
    "AgreementRequest",
    "AgreementState",
    "AgreementStatus",
    "ChargeNotice",
    "ChargeRequest",
    "PeriodUnit",
    "Withholding",
    "WithholdingRules",
    "supports_withholding",
]
