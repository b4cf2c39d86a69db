"""Charging an order under a withholding agreement (代扣: automatic renewal), without the
payer at a cashier.

Unlike :func:`~payments.services.payments.payment_start`, the payment is saved (and
committed) *before* the gateway is asked: a charge's result may arrive as a notification
before the gateway's answer does, and must find its payment. A crash in between leaves a
pending payment the gateway has never heard of; asking again with the same payment number
(:func:`withholding_charge_send`) charges it, the query sweep finds it "not found", and
the close sweep closes it when its order's deadline passes.

One payment per attempt, numbered by kpay: the gateway charges one payment number at
most once, so sending the same payment again (a retry after a timeout, two workers at
once) never charges twice. An answer that is final is applied through
:func:`~payments.services.payments.payment_status_apply`, the path a query's answer
takes, under the payment's lock, so an answer and its notification never both apply.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.db import statement_guard
from orders.models import Order
from orders.numbers import new_public_number

from .. import locks, selectors
from ..exceptions import ChannelUnavailable, GatewayRejected, OrderNotPayable
from ..gateways import get_gateway
from ..gateways.base import TradeState, TradeStatus
from ..gateways.withholding import ChargeRequest, supports_withholding
from ..models import Payment
from .payments import payment_status_apply, payment_transition

logger = logging.getLogger(__name__)

WITHHOLDING_ACTION = "withholding"


@dataclass(frozen=True)
class ChargeOutcome:
    """What came of asking the gateway for a charge: the payment as it now stands, the
    gateway's word on the trade (PENDING when it answers later), and why it refused or
    failed, in its own words."""

    payment: Payment
    state: TradeState
    failure_code: str = ""
    failure_message: str = ""


def withholding_gateway(alias: str, channel: str):
    """The gateway behind ``alias`` if it offers withholding on ``channel``."""
    gateway = get_gateway(alias)
    if not supports_withholding(gateway) or channel not in gateway.withholding_channels:
        raise ChannelUnavailable()
    return gateway


def withholding_payment_prepare(
    *, order: Order, gateway_alias: str, channel: str, gateway_agreement_id: str
) -> Payment:
    """The payment that charges ``order`` under the agreement: its pending one on the
    channel if there is one (a retry reuses its number), else a new one, saved before the
    gateway hears of it. Call it in the caller's transaction (it commits with it) or alone.
    """
    withholding_gateway(gateway_alias, channel)
    now = timezone.now()
    if not order.is_payable or order.expires_at <= now:
        raise OrderNotPayable()
    for _attempt in range(2):
        existing = selectors.payment_pending_on_channel(order=order, channel=channel)
        if existing is not None:
            return existing
        payment = Payment(
            payment_no=new_public_number("P"),
            order=order,
            merchant_id=order.merchant_id,
            channel=channel,
            gateway=gateway_alias,
            amount=order.total,
            currency=order.currency,
            action={"kind": WITHHOLDING_ACTION, "gateway_agreement_id": gateway_agreement_id},
            expires_at=order.expires_at,
        )
        try:
            with statement_guard():
                payment.save(force_insert=True)
            return payment
        except IntegrityError:
            continue  # another attempt saved the order's pending payment first: take it
    raise OrderNotPayable()


def withholding_charge_send(*, payment: Payment, client_ip: str | None = None) -> ChargeOutcome:
    """Ask the gateway to charge a pending withholding payment (again: the same number is
    never charged twice), outside any transaction, and apply a final answer.

    A refusal (the gateway's business error: no notice, outside its hours, agreement
    ended, over its limit) fails the payment: nothing was charged. An unknown outcome
    (timeout, 5xx, unverifiable answer) raises and leaves the payment pending for the
    notification, the query sweep, or a later send.
    """
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("withholding_charge_send calls the gateway: call it outside transactions")
    gateway = withholding_gateway(payment.gateway, payment.channel)
    order = payment.order
    webhook = reverse("payments:withholding-webhook", args=[gateway.alias])
    try:
        status = gateway.charge(
            ChargeRequest(
                payment_no=payment.payment_no,
                gateway_agreement_id=payment.action.get("gateway_agreement_id", ""),
                amount=payment.amount,
                currency=payment.currency,
                description=order.description,
                notify_url=f"{settings.KPAY_PUBLIC_URL}{webhook}",
                client_ip=client_ip,
            )
        )
    except GatewayRejected as exc:
        return _refused(gateway, payment, exc)
    return _apply_answer(gateway, payment, status)


def _refused(gateway, payment: Payment, exc: GatewayRejected) -> ChargeOutcome:
    """The gateway refused the charge. A refusal of a payment number it already charged
    (asked again after a lost answer) must not fail a paid payment: the trade is asked
    for first, and only a trade the gateway does not have, or has failed or closed,
    fails the payment."""
    why = f"{exc.gateway_code}: {exc.message}" if exc.gateway_code else str(exc.message)
    status = gateway.query_charge(payment.payment_no)
    if status.state not in (TradeState.NOT_FOUND, TradeState.FAILED, TradeState.CLOSED):
        return _apply_answer(gateway, payment, status)
    with transaction.atomic():
        locked = locks.payment_lock(pk=payment.pk)
        payment_transition(locked, "fail", reason=f"charge refused ({why})"[:255], at=timezone.now())
    logger.info("withholding payment %s: refused by the gateway: %s", payment.payment_no, why)
    return ChargeOutcome(
        payment=locked,
        state=TradeState.FAILED,
        failure_code=exc.gateway_code or status.failure_code,
        failure_message=str(exc.message),
    )


def _apply_answer(gateway, payment: Payment, status: TradeStatus) -> ChargeOutcome:
    if status.payment_no != payment.payment_no:
        logger.warning(
            "withholding payment %s: answer about %s ignored", payment.payment_no, status.payment_no
        )
        return ChargeOutcome(payment=payment, state=TradeState.PENDING)
    if status.state in (TradeState.SUCCEEDED, TradeState.FAILED, TradeState.CLOSED, TradeState.REFUNDED):
        applied = payment_status_apply(gateway=gateway, status=status, source="charge answer")
        payment = applied or payment
    return ChargeOutcome(
        payment=payment,
        state=status.state,
        failure_code=status.failure_code,
        failure_message=status.failure_message,
    )


def withholding_charge_start(
    *, order: Order, gateway_alias: str, channel: str, gateway_agreement_id: str, client_ip: str | None = None
) -> ChargeOutcome:
    """Charge ``order`` under an agreement: prepare its payment (committed), then ask the
    gateway. Idempotent per order: a retry resends the same pending payment."""
    with transaction.atomic():
        payment = withholding_payment_prepare(
            order=order,
            gateway_alias=gateway_alias,
            channel=channel,
            gateway_agreement_id=gateway_agreement_id,
        )
    return withholding_charge_send(payment=payment, client_ip=client_ip)
