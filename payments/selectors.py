from django.db.models import OuterRef, Q, QuerySet, Subquery

from orders.models import Order

from .models import Payment


def order_for_payment(*, learner, order_no: str, channel: str, now) -> Order | None:
    """The learner's order and its still-usable pending payment on the same channel, if
    any, in one query."""
    reusable = Payment.objects.filter(
        order=OuterRef("pk"), channel=channel, status=Payment.Status.PENDING, expires_at__gt=now
    ).order_by("-created_at")
    return (
        Order.objects.filter(learner=learner, order_no=order_no)
        .annotate(reusable_payment_id=Subquery(reusable.values("pk")[:1]))
        .first()
    )


def payment_get_for_update(*, payment_no: str, gateway: str) -> Payment | None:
    """Lock a payment and its order (the order's lock serialises everything that can
    pay it); the order's merchant comes along for the ledger."""
    return (
        Payment.objects.select_related("order", "order__merchant")
        .select_for_update(of=("self", "order"))
        .filter(payment_no=payment_no, gateway=gateway)
        .first()
    )


def payments_to_close(*, now) -> QuerySet[Payment]:
    """Pending payments nobody can complete any more: past their deadline, or their
    order was closed."""
    return Payment.objects.filter(status=Payment.Status.PENDING).filter(
        Q(expires_at__lte=now) | Q(order__status__in=Order.CLOSED_STATUSES)
    )


def payment_pending_for_order(*, order: Order, now, payment_no: str = "") -> Payment | None:
    """The payment a learner can still complete: ``payment_no`` if it is usable, else the
    order's newest usable pending payment."""
    usable = order.payments.filter(status=Payment.Status.PENDING, expires_at__gt=now).order_by(
        "-created_at", "-pk"
    )
    chosen = usable.filter(payment_no=payment_no).first() if payment_no else None
    return chosen or usable.first()


def payments_to_poll(*, now, older_than) -> QuerySet[Payment]:
    """Pending payments that should have heard from their gateway by now."""
    return Payment.objects.filter(
        status=Payment.Status.PENDING, created_at__lte=now - older_than, expires_at__gt=now
    ).order_by("created_at")


def latest_payment_for_order(*, order: Order) -> Payment | None:
    return order.payments.order_by("-created_at", "-pk").first()
