"""Applying verified gateway notifications: each stored once per gateway event id with
what became of it, payments captured or failed, refund notifications handed to the
refund life cycle."""

from django.db import transaction
from django.utils import timezone

from core.bound import writes_in_one_bound_statement
from core.db import db_insert_rows

from .. import locks
from ..exceptions import UnknownTrade
from ..gateways.base import Gateway, Notification, NotificationKind, TradeState
from ..models import GatewayEvent, Payment
from .flags import payment_flag_if_mismatch
from .payments import payment_capture, payment_transition
from .refund_gateway import refund_notification_apply


def payment_notification_handle(*, gateway: Gateway, notification: Notification) -> str:
    """Apply a verified notification once, under the order's lock; returns the outcome.

    The event is stored (once per gateway event id) with what became of it. A
    duplicate, or a copy racing the first, finds the payment already settled and
    changes nothing.
    """
    now = timezone.now()
    with transaction.atomic():
        if notification.kind == NotificationKind.REFUND:
            payment, outcome, detail = refund_notification_apply(
                gateway=gateway, notification=notification, now=now
            )
            _event_record(gateway, notification, payment, outcome, detail, now)
            return outcome
        if notification.kind != NotificationKind.PAYMENT:
            _event_record(gateway, notification, None, GatewayEvent.Outcome.IGNORED, "", now)
            return GatewayEvent.Outcome.IGNORED
        payment = locks.payment_lock_by_number(payment_no=notification.trade_no, gateway=gateway.alias)
        if payment is None:
            raise UnknownTrade()
        # The payment's, order's, journal's, enrollment's and the event's writes: one
        # statement after the lock (core.db), not one each, bound and prepared on the
        # server (core.bound).
        with writes_in_one_bound_statement():
            outcome, detail = _apply_payment_notification(payment, gateway, notification, now)
            _event_record(gateway, notification, payment, outcome, detail, now)
    return outcome


def _apply_payment_notification(payment: Payment, gateway: Gateway, notification: Notification, now):
    mismatch = payment_flag_if_mismatch(
        payment=payment,
        gateway=gateway,
        source=f"notification {notification.event_id}",
        amount=notification.amount,
        currency=notification.currency,
        merchant_ids=notification.merchant_ids,
    )
    if mismatch:
        return GatewayEvent.Outcome.MISMATCH, mismatch
    if notification.state == TradeState.SUCCEEDED:
        if payment.status in (Payment.Status.SUCCEEDED, Payment.Status.UNAPPLIED):
            return GatewayEvent.Outcome.DUPLICATE, ""
        outcome = payment_capture(
            payment,
            gateway_txn_id=notification.gateway_txn_id,
            payer_id=notification.payer_id,
            reason=f"{notification.event_type} {notification.event_id}",
            at=now,
        )
        return outcome, ""
    if notification.state == TradeState.FAILED:
        if not payment_transition(
            payment, "fail", reason=f"{notification.event_type} {notification.event_id}", at=now
        ):
            return GatewayEvent.Outcome.IGNORED, f"payment is {payment.status}"
        return GatewayEvent.Outcome.PROCESSED, ""
    return GatewayEvent.Outcome.IGNORED, f"state {notification.state}"


def _event_record(gateway, notification, payment, outcome, detail, now) -> None:
    """The event, stored once per gateway event id; its row as values (only written:
    ``core.db.db_insert_rows``)."""
    db_insert_rows(
        GatewayEvent,
        [
            {
                "gateway": gateway.alias,
                "event_id": notification.event_id[:128],
                "event_type": notification.event_type[:64],
                "trade_no": notification.trade_no[:64],
                "payment_id": payment.pk if payment is not None else None,
                "outcome": outcome,
                "detail": detail[:255],
                "payload": dict(notification.payload),
                "received_at": now,
            }
        ],
        ignore_conflicts=True,
    )
