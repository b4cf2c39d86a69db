"""Reads of payments, refunds and the journal that more than one caller (or the admin) uses."""

from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum

from orders.models import Order

from .models import JournalEntry, Payment, Refund


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


def payment_pending_on_channel(*, order: Order, channel: str) -> Payment | None:
    """The order's pending payment on ``channel`` (the database allows one)."""
    return Payment.objects.filter(order=order, channel=channel, status=Payment.Status.PENDING).first()


def payments_to_close(*, now) -> QuerySet[Payment]:
    """Pending payments nobody can or should complete any more: past their deadline,
    their order was closed, or their order was paid by another attempt (a second
    payment would charge the learner twice)."""
    return Payment.objects.filter(status=Payment.Status.PENDING).filter(
        Q(expires_at__lte=now) | Q(order__status__in=Order.CLOSED_STATUSES) | Q(order__paid_at__isnull=False)
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


def payment_succeeded_for_order(*, order: Order) -> Payment | None:
    """The order's successful payment (the one refunds come out of), if it was paid."""
    return order.payments.filter(status=Payment.Status.SUCCEEDED).first()


def refund_amount_signed_by(*, user_id: int, order_id: int, exclude_pk: int | None = None) -> int:
    """What ``user_id`` has signed of ``order_id``'s refunds (fen): those not denied that
    they approved or first-approved (four eyes, :mod:`payments.services.refunds`)."""
    refunds = Refund.objects.filter(order_id=order_id).exclude(status=Refund.Status.DENIED)
    if exclude_pk is not None:
        refunds = refunds.exclude(pk=exclude_pk)
    signed = refunds.filter(Q(approved_by_id=user_id) | Q(first_approved_by_id=user_id))
    return signed.aggregate(total=Sum("amount"))["total"] or 0


def refund_get(*, pk: int) -> Refund | None:
    return Refund.objects.select_related("order", "payment").filter(pk=pk).first()


def refund_list_for_learner_order(*, learner, order_no: str) -> QuerySet[Refund]:
    return Refund.objects.filter(order__learner=learner, order__order_no=order_no).order_by(
        "-created_at", "-pk"
    )


def refunds_to_sync(*, now, older_than) -> QuerySet[Refund]:
    """Refunds that should have been settled by now: approved ones whose task may have
    been lost, and ones processing at the gateway without news."""
    return Refund.objects.filter(
        Q(status=Refund.Status.APPROVED, decided_at__lte=now - older_than)
        | Q(status=Refund.Status.PROCESSING, submitted_at__lte=now - older_than)
    ).order_by("created_at", "pk")


def journal_accounts(*, entries: QuerySet[JournalEntry]) -> list[str]:
    """Every account ``entries`` touch, on either side, sorted (for the journal's filter)."""
    entries = entries.order_by()
    accounts = set(entries.values_list("debit_account", flat=True).distinct())
    accounts |= set(entries.values_list("credit_account", flat=True).distinct())
    return sorted(accounts)
