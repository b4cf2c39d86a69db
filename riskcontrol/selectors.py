"""Reads of risk control shared by its pages: the review queue and what a reviewer
wants to know about the learner."""

from django.db.models import Prefetch, QuerySet

from orders.models import Order
from payments.models import Payment, Refund

from .models import ReviewDecision

HISTORY_ROWS = 20


def review_queue(orders: QuerySet[Order]) -> QuerySet[Order]:
    """Of ``orders``, those paid and waiting for a decision, each with its successful
    payment (``succeeded_payments``) whose assessment the reviewer reads."""
    return orders.filter(status=Order.Status.PAID, risk_review__isnull=True).prefetch_related(
        Prefetch(
            "payments", Payment.objects.filter(status=Payment.Status.SUCCEEDED), to_attr="succeeded_payments"
        )
    )


def order_awaits_review(order: Order) -> bool:
    """Whether ``order`` is paid and held with no decision yet: the one rule for the review
    page's form and the decision service."""
    return order.status == Order.Status.PAID and not ReviewDecision.objects.filter(order_id=order.pk).exists()


def learner_history(*, learner_id: int, limit: int = HISTORY_ROWS) -> list[tuple]:
    """The learner's latest orders, payments and refunds, newest first, as
    ``(what, number, status, amount, created_at)``."""
    orders = Order.objects.filter(learner_id=learner_id).order_by("-created_at")[:limit]
    payments = Payment.objects.filter(order__learner_id=learner_id).order_by("-created_at")[:limit]
    refunds = Refund.objects.filter(order__learner_id=learner_id).order_by("-created_at")[:limit]
    rows = [("order", o.order_no, o.status, o.total, o.created_at) for o in orders]
    rows += [("payment", p.payment_no, p.status, p.amount, p.created_at) for p in payments]
    rows += [("refund", r.refund_no, r.status, r.amount, r.created_at) for r in refunds]
    return sorted(rows, key=lambda row: row[4], reverse=True)
