"""Reads of risk control shared by its pages: the review queue and what a reviewer
wants to know about the learner."""

from django.db.models import Count, Max, Prefetch, Q, QuerySet, Sum

from orders.models import Order
from payments.models import Payment, Refund

from .models import ReviewDecision

HISTORY_ROWS = 20
CLIENT_ROWS = 10


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


def learner_history(*, learner_id: int, limit: int = HISTORY_ROWS) -> dict:
    """The learner's latest orders, payments and refunds (newest first, ``limit`` of each)
    and their totals: orders placed, paid, amount paid and refunded."""
    orders = Order.objects.filter(learner_id=learner_id)
    return {
        "orders": list(orders.order_by("-created_at", "-pk")[:limit]),
        "payments": list(
            Payment.objects.filter(order__learner_id=learner_id)
            .select_related("order")
            .order_by("-created_at", "-pk")[:limit]
        ),
        "refunds": list(
            Refund.objects.filter(order__learner_id=learner_id)
            .select_related("order")
            .order_by("-created_at", "-pk")[:limit]
        ),
        "totals": orders.aggregate(
            placed=Count("pk"),
            paid=Count("pk", filter=Q(paid_at__isnull=False)),
            paid_amount=Sum("total", filter=Q(paid_at__isnull=False), default=0),
            refunded_amount=Sum("refunded_amount", default=0),
        ),
    }


def learner_clients(*, learner_id: int, limit: int = CLIENT_ROWS) -> list[dict]:
    """The IP addresses and devices the learner ordered from (latest first): how many
    orders, when last, and how many other accounts ordered from the same one."""
    clients = []
    for field, kind in (("client_ip", "ip"), ("device_id", "device")):
        used = (
            Order.objects.filter(learner_id=learner_id)
            .exclude(**{f"{field}__isnull": True})
            .exclude(**{field: ""})
            .values(field)
            .annotate(orders=Count("pk"), last=Max("created_at"))
            .order_by("-last")[:limit]
        )
        rows = {row[field]: row for row in used}
        others = (
            Order.objects.filter(**{f"{field}__in": list(rows)})
            .exclude(learner_id=learner_id)
            .values(field)
            .annotate(accounts=Count("learner", distinct=True))
            .order_by()
        )
        shared = {row[field]: row["accounts"] for row in others}
        clients += [
            {
                "kind": kind,
                "value": value,
                "orders": row["orders"],
                "last": row["last"],
                "other_accounts": shared.get(value, 0),
            }
            for value, row in rows.items()
        ]
    return clients
