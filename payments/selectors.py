"""Reads of payments, refunds and the journal that more than one caller (or the admin) uses."""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum

from core.bound import bound_cursor
from core.prepared import PreparedQuery
from orders.models import Order
from orders.selectors import order_get_for_learner
from promotions.selectors import redemption_for_order

from .models import JournalEntry, Payment, Refund


def order_for_payment(*, learner, order_no: str, channel: str, now) -> Order | None:
    """The learner's order and its still-usable pending payment on the same channel, if
    any, in one query.

    Without the order's ``risk_assessment`` (deferred): payment start never reads it, and
    it is the row's largest value, a JSON document that psycopg parsed and the instance
    kept on every payment start (its whole record of inputs and verdicts). Read on
    access, like any deferred field, should anyone need it."""
    return _ORDER_FOR_PAYMENT.first(learner_id=learner.pk, order_no=order_no, channel=channel, now=now)


def _order_for_payment(*, learner_id: int, order_no: str, channel: str, now) -> QuerySet[Order]:
    reusable = Payment.objects.filter(
        order=OuterRef("pk"), channel=channel, status=Payment.Status.PENDING, expires_at__gt=now
    ).order_by("-created_at")
    return (
        Order.objects.filter(learner_id=learner_id, order_no=order_no)
        .defer("risk_assessment")
        .annotate(reusable_payment_id=Subquery(reusable.values("pk")[:1]))
    )


# Payment start's first statement, compiled once (core.prepared).
_ORDER_FOR_PAYMENT = PreparedQuery(
    _order_for_payment,
    cursor=bound_cursor,  # bound and prepared: planned once per connection, not per payment start
    learner_id=-7_301_002,
    order_no="\x00order",
    channel="\x00channel",
    now=datetime(1901, 2, 3, 4, 5, 6, 789_013, UTC),
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


def refund_requestable_amount(*, order: Order) -> int:
    """What the learner may ask back now (fen): nothing outside the refund window or
    once nothing is left; else the paid amount less what was refunded and what refunds
    under way already set aside. Zero while a refund of everything left is pending."""
    if not order.learner_may_request_refund():
        return 0
    payment = payment_succeeded_for_order(order=order)
    return max(payment.refundable_amount, 0) if payment is not None else 0


@dataclass(frozen=True)
class Receipt:
    """A paid order's receipt (电子收据): what was bought, at what price, how it was paid,
    and what has been given back since."""

    order: Order
    payment: Payment | None
    refunds: tuple[Refund, ...]  # succeeded, oldest first
    refunds_in_flight: tuple[Refund, ...]
    coupon_name: str

    @property
    def refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds)

    @property
    def remains(self) -> int:
        """What the learner has paid and kept paid: the total less the refunds made."""
        return self.order.total - self.refunded


def receipt_for_learner(*, learner, order_no: str) -> Receipt | None:
    """The receipt of one of the learner's paid orders; None for an unpaid order or
    anyone else's (indistinguishable from none)."""
    order = order_get_for_learner(learner=learner, order_no=order_no)
    if order is None or not order.is_paid:
        return None
    payment = payment_succeeded_for_order(order=order)
    refunds = (
        list(payment.refunds.exclude(origin=Refund.Origin.UNAPPLIED).order_by("created_at", "pk"))
        if payment is not None
        else []
    )
    redemption = redemption_for_order(order_id=order.pk)
    return Receipt(
        order=order,
        payment=payment,
        refunds=tuple(
            sorted(
                (refund for refund in refunds if refund.status == Refund.Status.SUCCEEDED),
                key=lambda refund: (refund.succeeded_at or refund.created_at, refund.pk),
            )
        ),
        refunds_in_flight=tuple(refund for refund in refunds if refund.status in Refund.IN_FLIGHT_STATUSES),
        coupon_name=redemption.coupon.name if redemption is not None else "",
    )
