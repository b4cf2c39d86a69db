"""Completing orders: after its refund window an order is complete ("receipt
confirmed") and the merchant's share of it moves from pending to available, and the
learner earns points (积分) on what they paid.

Every write here takes its locks in the refund flow's order (payment with its order,
``payments.locks.payment_lock_for_refund``), so a refund and a settlement of the same
order serialise instead of deadlocking.
"""

import logging

from django.db import transaction
from django.utils import timezone

from orders.models import Order
from orders.selectors import orders_due_for_settlement
from orders.services import order_complete
from payments import ledger
from payments.locks import payment_lock_for_refund
from promotions.points import points_earn_for_order

logger = logging.getLogger(__name__)


def order_settle(*, order_id: int, now=None) -> bool:
    """Complete one order whose refund window has ended and make the merchant's share
    of it available. Returns False, changing nothing, when the order is not due
    (already completed, refunded in full, delivery held) or a refund of it is open
    (it is retried on a later run, once the refund is settled)."""
    now = now or timezone.now()
    with transaction.atomic():
        payment = payment_lock_for_refund(order_id=order_id)
        if payment is None:
            return False
        order = payment.order
        due = (
            order.status in Order.SETTLEABLE_STATUSES
            and order.completed_at is None
            and order.fulfilled_at is not None
            and order.refund_deadline is not None
            and order.refund_deadline <= now
        )
        if not due or payment.refund_reserved:
            return False
        order_complete(order=order, at=now)
        ledger.post_order_settled(order=order, at=now)
        points_earn_for_order(order=order, at=now)  # posted to the journal through promotions.signals
    return True


def orders_settle_due(*, now=None, limit: int = 10_000) -> int:
    """The beat task's work: settle every order due, each in its own transaction (one
    failure does not hold back the others). Returns how many were settled."""
    now = now or timezone.now()
    settled = 0
    for order_id in orders_due_for_settlement(now=now, limit=limit):
        try:
            settled += order_settle(order_id=order_id, now=now)
        except Exception:
            logger.exception("settling order %s failed", order_id)
    return settled
