"""Payments: starting one, capturing the money a gateway reports, syncing with the gateway,
closing trades nobody can complete. Network calls are made outside transactions."""

import functools
import logging
import re
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone

from core.bound import bound_cursor
from core.db import db_insert_rows, db_update, save_new, statement_guard, writes_in_one_statement
from core.http import UNKNOWN_CLIENT, ClientInfo
from core.risk import CheckoutContext, assess_payment
from core.tasks import enqueue_on_commit
from core.transitions import apply_transition, transition_row
from orders.attribution import referred_promoter_id
from orders.exceptions import OrderNotFound
from orders.models import Order
from orders.numbers import new_public_number
from orders.services import order_record_payment

from .. import ledger, locks, selectors
from ..exceptions import GatewayUnavailable, InvalidResponse, OrderNotPayable, PaymentError, TradeAlreadyPaid
from ..gateways import gateway_for_channel, get_gateway
from ..gateways.base import PaymentRequest, TradeState, TradeStatus
from ..gateways.withholding import supports_withholding
from ..models import GatewayEvent, Payment, PaymentStatusChange
from .flags import payment_flag_change, payment_flag_if_mismatch
from .refunds import refund_issue_for_risk
from .unapplied import refund_unapplied_by_system

logger = logging.getLogger(__name__)

CLOSE_TRADE_TASK = "payments.tasks.close_superseded_trade"
CLOSE_ORDER_PAYMENTS_TASK = "payments.tasks.close_order_payments"
POLL_AFTER = timedelta(minutes=2)  # a pending payment older than this is asked about
BATCH = 200  # payments handled per periodic run


def _public_url(path: str) -> str:
    return f"{settings.KPAY_PUBLIC_URL}{path}"


def _notify_url(alias: str) -> str:
    """The gateway's notification URL, reversed once per alias, public URL and prefix."""
    return _notify_url_of(alias, settings.KPAY_PUBLIC_URL, get_script_prefix())


@functools.lru_cache(maxsize=64)
def _notify_url_of(alias: str, public_url: str, prefix: str) -> str:
    return f"{public_url}{reverse('payments:webhook', args=[alias])}"


# An order number as new_public_number makes it: reversed into a URL as it is (nothing
# to quote, nothing the path converter refuses).
_PLAIN_ORDER_NO = re.compile(r"[0-9A-Za-z_-]{1,32}")
_ORDER_NO_STAND_IN = "0ORDERNOSTANDIN0"


def _return_url(order_no: str) -> str:
    """The learner's result page, ``_public_url(reverse("payments:result", args=[order_no]))``.

    Reversed once per public URL, prefix and URLconf around a stand-in, and the order
    number put in its place: resolving the name and quoting the argument on every
    payment start cost as much CPU as encoding the whole signed cashier URL (about
    0.09 ms each on the 2-core machine). An order number of another shape, or a URLconf
    whose result URL does not carry it as it is, is reversed the ordinary way.
    """
    around = _return_url_around(settings.KPAY_PUBLIC_URL, get_script_prefix(), get_urlconf())
    if around is None or _PLAIN_ORDER_NO.fullmatch(order_no) is None:
        return _public_url(reverse("payments:result", args=[order_no]))
    return f"{around[0]}{order_no}{around[1]}"


@functools.lru_cache(maxsize=64)
def _return_url_around(public_url: str, prefix: str, urlconf) -> tuple[str, str] | None:
    """The result page's URL before and after its order number; None when the URL does
    not carry the number once, as it is (then every call reverses)."""
    url = f"{public_url}{reverse('payments:result', args=[_ORDER_NO_STAND_IN])}"
    head, stand_in, tail = url.partition(_ORDER_NO_STAND_IN)
    return (head, tail) if stand_in and _ORDER_NO_STAND_IN not in tail else None


def payment_start(
    *, learner, order_no: str, channel: str, client: ClientInfo = UNKNOWN_CLIENT, payer_id: str | None = None
) -> Payment:
    """Start paying an order on a channel, or hand back the attempt already under way.

    The gateway is asked first and the payment saved after: a crash in between leaves
    only a trade at the gateway whose code nobody received, which expires unpaid.

    Parallel requests converge on one attempt, optimistically (as checkout does): the
    common path is one query and one INSERT, and the database's "one pending payment per
    order and channel" (``payment_one_pending_per_channel``) refuses every INSERT but
    the first. A request that loses the race hands back the winner's payment and keeps
    its own trade as a *closed* payment, closed at the gateway after commit: nobody
    received its code, and should money ever arrive on it anyway it is a known trade,
    kept as unapplied and returned, never lost.
    """
    now = timezone.now()
    gateway = gateway_for_channel(channel)
    order = selectors.order_for_payment(learner=learner, order_no=order_no, channel=channel, now=now)
    if order is None:
        raise OrderNotFound()
    if not order.is_payable or order.expires_at <= now:
        raise OrderNotPayable()
    if order.reusable_payment_id is not None:
        return Payment.objects.get(pk=order.reusable_payment_id)

    payment_no = new_public_number("P")
    action = gateway.create_payment(
        PaymentRequest(
            payment_no=payment_no,
            amount=order.total,
            currency=order.currency,
            description=order.description,
            channel=channel,
            notify_url=_notify_url(gateway.alias),
            return_url=_return_url(order.order_no),
            expires_at=order.expires_at,
            client_ip=client.ip,
            payer_id=payer_id,
        )
    )
    payment = Payment(
        payment_no=payment_no,
        order=order,
        merchant_id=order.merchant_id,
        channel=channel,
        gateway=gateway.alias,
        amount=order.total,
        currency=order.currency,
        action=action.as_json(),
        expires_at=order.expires_at,
    )
    for _attempt in range(2):
        try:
            with statement_guard():
                # payment.save(force_insert=True), its INSERT compiled once, sent prepared
                save_new(payment, cursor=bound_cursor)
            return payment
        except IntegrityError:
            winner = selectors.payment_pending_on_channel(order=order, channel=channel)
            if winner is None:
                continue  # the other attempt ended meanwhile: try again
            if winner.expires_at > timezone.now():
                _keep_superseded(payment, winner=winner)
                return winner
            _close_expired(winner)  # past its deadline, not swept yet: make way for this one
    _keep_superseded(payment, winner=None)
    raise OrderNotPayable()


def _keep_superseded(payment: Payment, *, winner: Payment | None) -> None:
    """Record a trade created at the gateway by a request that lost the race to
    ``winner`` as a closed payment, and close it at the gateway after commit."""
    now = timezone.now()
    reason = f"superseded by {winner.payment_no}" if winner else "another attempt is under way"
    with transaction.atomic():
        kept = {f.attname: getattr(payment, f.attname) for f in Payment._meta.concrete_fields}
        kept.update(id=None, status=Payment.Status.CLOSED, closed_at=now)
        closed = Payment(**kept)
        closed.save(force_insert=True)
        PaymentStatusChange.objects.create(
            payment=closed,
            from_status=Payment.Status.PENDING,
            to_status=Payment.Status.CLOSED,
            transition="close",
            reason=reason,
            created_at=now,
        )
        enqueue_on_commit(CLOSE_TRADE_TASK, payment_id=closed.pk)


def _close_expired(payment: Payment) -> None:
    """Close a pending payment past its deadline here at once and at its gateway after
    commit (a closed payment that turns out paid is still captured: nothing is lost)."""
    with transaction.atomic():
        locked = locks.payment_lock(pk=payment.pk)
        if payment_transition(locked, "close", reason="payment deadline passed", at=timezone.now()):
            enqueue_on_commit(CLOSE_TRADE_TASK, payment_id=locked.pk)


def payment_close_at_gateway(*, payment_id: int) -> None:
    """Close at its gateway the trade of a payment kpay already closed (a race's loser,
    or one past its deadline).
    If the gateway says it was paid after all, the payment is synced (the money kept as
    unapplied and returned). A gateway that does not answer leaves the trade to expire
    at the order's deadline, as the gateway was told when it was created."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or payment.status != Payment.Status.CLOSED:
        return
    gateway = get_gateway(payment.gateway)
    try:
        gateway.close_payment(payment.payment_no)
    except TradeAlreadyPaid:
        payment_sync(payment=payment)
    except GatewayUnavailable:
        logger.info("payment %s: gateway unavailable; its trade expires at the deadline", payment.payment_no)


def _assess_payer(payment: Payment, order: Order, *, payer_id: str):
    """The payment-stage risk assessment, kept on the payment (saved with its success)."""
    context = CheckoutContext(
        learner_id=order.learner_id,
        merchant_id=order.merchant_id,
        course_ids=tuple(order.course_ids),
        amount=payment.amount,
        currency=payment.currency,
        ip=order.client_ip,
        device_id=order.device_id or None,
        payer_id=payer_id or None,
        promoter_id=referred_promoter_id(order),
    )
    risk = assess_payment(context)
    payment.risk_assessment = risk.as_record(stage="payment", context=context)
    return risk


def payment_capture(payment: Payment, *, gateway_txn_id: str, payer_id: str, reason: str, at) -> str:
    """Money arrived for a locked, pending payment: apply it to its order, or, if the
    order cannot take it, keep it as owed back (flagged for a refund). Returns the event
    outcome."""
    with writes_in_one_statement():  # one round trip for what follows (core.db)
        return _capture(payment, gateway_txn_id=gateway_txn_id, payer_id=payer_id, reason=reason, at=at)


def _capture(payment: Payment, *, gateway_txn_id: str, payer_id: str, reason: str, at) -> str:
    order = payment.order
    if order.status == Order.Status.PENDING_PAYMENT:
        risk = _assess_payer(payment, order, payer_id=payer_id)
        change = transition_row(  # its history row as values: only written (core.db.db_insert_rows)
            payment,
            "succeed",
            history_model=PaymentStatusChange,
            reason=reason,
            at=at,
            gateway_txn_id=gateway_txn_id,
            payer_id=payer_id,
        )
        db_update(payment, ["status", "succeeded_at", "gateway_txn_id", "payer_id", "risk_assessment"])
        db_insert_rows(PaymentStatusChange, [change])
        held = risk.decision != "allow" or order.risk_assessment.get("decision") == "review"
        order_record_payment(
            order=order,
            at=at,
            reason=f"payment {payment.payment_no}" + (" (delivery held by risk control)" if held else ""),
            deliver=not held,
        )
        ledger.post_payment_received(payment=payment, order=order, merchant=order.merchant, at=at)
        if getattr(payment, "order_has_other_open", True):
            # Other attempts still open (another channel's cashier): close them after
            # commit, so they cannot take the learner's money a second time. The close
            # sweep retries any the gateway does not close now.
            enqueue_on_commit(CLOSE_ORDER_PAYMENTS_TASK, order_id=order.pk)
        if risk.blocked:
            refund_issue_for_risk(order_id=order.pk, reason="blocked by risk control when paid")
        return GatewayEvent.Outcome.PROCESSED

    why = "order already paid" if order.is_paid else f"order {order.status}"
    auto_return = settings.KPAY_AUTO_RETURN_UNAPPLIED
    change = apply_transition(
        payment,
        "mark_unapplied",
        history_model=PaymentStatusChange,
        reason=reason,
        at=at,
        gateway_txn_id=gateway_txn_id,
        payer_id=payer_id,
        flag=f"received after {why}: refund it" + (" (returned automatically)" if auto_return else ""),
    )
    payment.save(update_fields=["status", "succeeded_at", "gateway_txn_id", "payer_id", "flag"])
    PaymentStatusChange.objects.bulk_create([change, payment_flag_change(payment, at=at)])
    ledger.post_payment_unapplied(payment=payment, order=order, at=at)
    if auto_return:
        refund_unapplied_by_system(payment, reason=f"returned automatically: received after {why}", at=at)
    logger.warning(
        "payment %s for %s received after %s: %s",
        payment.payment_no,
        order.order_no,
        why,
        "returning it" if auto_return else "flagged for refund",
    )
    return GatewayEvent.Outcome.UNAPPLIED


def payment_sync(*, payment: Payment) -> Payment:
    """Ask the gateway where a payment stands and apply the answer (a notification may
    have been lost). Unknown outcomes (gateway down) leave the payment as it is.

    A payment we had given up on (failed, or closed while the learner was paying) that
    the gateway says was paid is captured like a late notification would be: applied
    to its order, or kept as owed back if the order has closed meanwhile. A charge under
    a withholding agreement is asked for with the gateway's charge query.
    """
    gateway = get_gateway(payment.gateway)
    if is_withholding_payment(gateway, payment):
        status = gateway.query_charge(payment.payment_no)
    else:
        status = gateway.query_payment(payment.payment_no)
    return payment_status_apply(gateway=gateway, status=status, source="gateway query")


def is_withholding_payment(gateway, payment: Payment) -> bool:
    """Whether ``payment`` is a charge under a withholding agreement (automatic renewal)."""
    return supports_withholding(gateway) and payment.channel in gateway.withholding_channels


def payment_status_apply(*, gateway, status: TradeStatus, source: str) -> Payment | None:
    """Apply what the gateway says of a trade (a query's answer, or a withholding
    charge's immediate answer) under the payment's lock: the one path, shared with
    notifications' ``payment_capture``, so an answer and a notification that say the same
    never apply twice. Returns the payment (None if kpay does not know the trade)."""
    now = timezone.now()
    paid = status.state in (TradeState.SUCCEEDED, TradeState.REFUNDED)
    with transaction.atomic():
        locked = locks.payment_lock_by_number(payment_no=status.payment_no, gateway=gateway.alias)
        if locked is None:
            return None
        still_open = (Payment.Status.PENDING, Payment.Status.FAILED, Payment.Status.CLOSED)
        if locked.status not in (still_open if paid else (Payment.Status.PENDING,)):
            return locked
        if paid:
            if payment_flag_if_mismatch(
                payment=locked,
                gateway=gateway,
                source=source,
                amount=status.amount,
                currency=status.currency,
                merchant_ids=status.merchant_ids,
            ):
                return locked
            payment_capture(
                locked,
                gateway_txn_id=status.gateway_txn_id,
                payer_id=status.payer_id,
                reason=f"{source}: paid",
                at=now,
            )
        elif status.state == TradeState.FAILED:
            why = ": ".join(part for part in (status.failure_code, status.failure_message) if part)
            reason = f"{source}: payment failed" + (f" ({why})" if why else "")
            payment_transition(locked, "fail", reason=reason, at=now)
        elif status.state == TradeState.CLOSED:
            payment_transition(locked, "close", reason=f"{source}: closed", at=now)
    return locked


def payment_transition(payment: Payment, name: str, *, reason: str, at, actor=None) -> bool:
    """Drive transition ``name`` of a locked payment and record it; False (nothing changed)
    when the payment is not in a state it applies to."""
    change = apply_transition(
        payment, name, history_model=PaymentStatusChange, actor=actor, reason=reason, at=at
    )
    if change is None:
        return False
    payment.save(update_fields=["status", "closed_at"] if name == "close" else ["status"])
    change.save()
    return True


def payment_close(*, payment: Payment, reason: str) -> Payment:
    """Close a pending payment at its gateway, then here. If the gateway says it was paid
    after all, the payment is synced instead (and the money applied or flagged)."""
    gateway = get_gateway(payment.gateway)
    try:
        gateway.close_payment(payment.payment_no)
    except TradeAlreadyPaid:
        return payment_sync(payment=payment)
    with transaction.atomic():
        locked = locks.payment_lock_by_number(payment_no=payment.payment_no, gateway=gateway.alias)
        payment_transition(locked, "close", reason=reason, at=timezone.now())
    return locked


def payments_close_stale(*, now=None) -> int:
    """Close every pending payment that can no longer complete; returns how many closed.
    A gateway that does not answer leaves its payments for the next run."""
    now = now or timezone.now()
    closed = 0
    for payment in list(selectors.payments_to_close(now=now).order_by("pk")[:BATCH]):
        try:
            result = payment_close(
                payment=payment, reason="order closed or paid by another attempt, or payment deadline passed"
            )
        except GatewayUnavailable:
            logger.info("payment %s: gateway unavailable, will retry close", payment.payment_no)
            continue
        closed += result.status == Payment.Status.CLOSED
    return closed


def order_payments_close(*, order_id: int) -> None:
    """Close the open trades of an order that was just cancelled or expired."""
    for payment in Payment.objects.filter(order_id=order_id, status=Payment.Status.PENDING):
        try:
            payment_close(payment=payment, reason="order closed")
        except GatewayUnavailable:
            logger.info("payment %s: gateway unavailable, the sweep will close it", payment.payment_no)


def payments_sync_pending(*, now=None) -> int:
    """Ask the gateways about payments still pending a while after they started (a
    notification may be lost or late). Returns how many changed state. An unreachable
    gateway leaves its payments for the next run."""
    now = now or timezone.now()
    changed = 0
    for payment in list(selectors.payments_to_poll(now=now, older_than=POLL_AFTER)[:BATCH]):
        try:
            changed += payment_sync(payment=payment).status != Payment.Status.PENDING
        except (GatewayUnavailable, InvalidResponse):
            logger.info("payment %s: gateway did not answer the query; next run", payment.payment_no)
    return changed


def payment_sync_if_due(*, payment: Payment, every_seconds: int = 15) -> Payment:
    """For the pay page's status poll: ask the gateway at most every ``every_seconds`` per
    payment, and never let a gateway problem reach the learner's page."""
    if not cache.add(f"payments:sync:{payment.pk}", 1, timeout=every_seconds):
        return payment
    try:
        return payment_sync(payment=payment)
    except PaymentError:
        return payment
