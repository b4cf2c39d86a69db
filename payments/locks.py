"""Row locks on payments and refunds, in the project's lock order (README, "Lock order"):
merchant → payment with its order → order alone → refunds → payout → difference.

A payment is always locked together with its order (``FOR UPDATE OF`` both): the order's
lock serialises everything that can pay or refund it.
"""

from django.db.models import Exists, OuterRef, QuerySet

from core.bound import BoundQuery

from .exceptions import RefundNotFound
from .models import Payment, Refund


def payment_lock_by_number(*, payment_no: str, gateway: str) -> Payment | None:
    """Lock a payment and its order (the order's lock serialises everything that can
    pay it); the order's merchant comes along for the ledger."""
    return _PAYMENT_LOCK_BY_NUMBER.first(payment_no=payment_no, gateway=gateway)


def _payment_lock_by_number(*, payment_no: str, gateway: str) -> QuerySet[Payment]:
    others_open = Payment.objects.filter(order=OuterRef("order_id"), status=Payment.Status.PENDING).exclude(
        pk=OuterRef("pk")
    )
    return (
        Payment.objects.select_related("order", "order__merchant")
        .select_for_update(of=("self", "order"))
        .annotate(order_has_other_open=Exists(others_open))  # to close them once paid: no extra query
        .filter(payment_no=payment_no, gateway=gateway)
    )


# The notification's first statement, compiled once (core.prepared): the lock's
# queryset (two joins, an EXISTS) cost more to build than to run. Bound, prepared, and
# sent with the transaction's BEGIN (core.bound).
_PAYMENT_LOCK_BY_NUMBER = BoundQuery(_payment_lock_by_number, payment_no="\x00payment", gateway="\x00gateway")


def payment_lock_for_refund(*, order_id: int) -> Payment | None:
    """Lock an order's successful payment and the order: every change to what is
    refunded (or in flight) of a payment happens under these locks, payment first."""
    return (
        Payment.objects.select_related("order", "order__merchant", "order__learner")
        .select_for_update(of=("self", "order"))
        .filter(order_id=order_id, status=Payment.Status.SUCCEEDED)
        .first()
    )


def payment_lock(*, pk: int) -> Payment:
    return (
        Payment.objects.select_related("order", "order__merchant", "order__learner")
        .select_for_update(of=("self", "order"))
        .get(pk=pk)
    )


def refund_lock(*, pk: int) -> Refund:
    """Lock a refund. Callers holding the payment's lock take it first (payment, then
    refund), so two paths never wait on each other in opposite order."""
    return Refund.objects.select_for_update().get(pk=pk)


def refund_lock_with_payment(*, refund_id: int) -> tuple[Payment, Refund]:
    """Lock a refund's payment and order, then the refund (always in this order); a
    refund that does not exist is :class:`~payments.exceptions.RefundNotFound`."""
    payment_id = Refund.objects.filter(pk=refund_id).values_list("payment_id", flat=True).first()
    if payment_id is None:
        raise RefundNotFound()
    return payment_lock(pk=payment_id), refund_lock(pk=refund_id)


def refund_lock_for_notification(*, payment: Payment, refund_no: str, amount: int) -> Refund | None:
    """The refund a gateway notification is about, locked. Gateways that do not echo our
    refund number (some Alipay notifications) are matched to the payment's oldest
    refund in flight for that amount (or, for a re-sent one, its newest settled one)."""
    refunds = Refund.objects.select_for_update().filter(payment=payment)
    if refund_no:
        return refunds.filter(refund_no=refund_no).first()
    in_flight = refunds.filter(status__in=[Refund.Status.APPROVED, Refund.Status.PROCESSING], amount=amount)
    settled = refunds.filter(status=Refund.Status.SUCCEEDED, amount=amount)  # a re-sent notification
    return in_flight.order_by("created_at", "pk").first() or settled.order_by("-succeeded_at", "-pk").first()
