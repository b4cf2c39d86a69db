"""Refunding a membership period: staff issue it (the admin's "Refund this period"),
through the payments refund services (four eyes, the journal, the gateway), with the
amount computed here.

The rule (README, "Memberships"):

* **Within the order's refund window** (``KPAY_REFUND_WINDOW`` after payment) a period
  is refundable in full: everything of its order not refunded yet. (The learner's own
  refund request works as for a course: a full refund ends the period when it succeeds.)
* **After it**, the unused share, pro rata by whole days left
  (:func:`memberships.calendar.days_left`: the local days after the day of the refund),
  rounded **down** to the fen: ``floor(total × days left / days in the period)``, less
  what was already refunded of the order or is being refunded.
* Issuing it ends the period at once (access ends when the refund is issued, not when
  the gateway confirms it); later periods move up. Should the refund be denied by the
  second approver, the period stays ended and a new refund of it is computed at the day
  it ended, so the learner is owed the same.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from courses import permissions
from orders.exceptions import OrderNotFound
from orders.models import Order
from payments.exceptions import OrderNotRefundable, RefundNotAllowed
from payments.locks import payment_lock_for_refund
from payments.models import Payment, Refund
from payments.services import refund_issue
from payments.services.refunds import refund_reason_clean

from .. import calendar
from ..exceptions import PeriodNotFound, PeriodNothingToRefund
from ..models import MembershipPeriod
from .periods import period_end_early


@dataclass(frozen=True)
class PeriodRefundQuote:
    """What refunding a period gives back, and why."""

    in_window: bool
    days_total: int
    days_left: int
    # The period's order total, what the rule gives in all, and what was refunded (or is
    # in flight) already.
    paid: int
    owed: int
    refunded: int

    @property
    def amount(self) -> int:
        return max(0, self.owed - self.refunded)


def pro_rata(*, paid: int, days_left: int, days_total: int) -> int:
    """The unused share of ``paid`` fen, rounded down to the fen."""
    if not (days_total > 0 and 0 <= days_left <= days_total and paid >= 0):
        raise ValueError("need days_total > 0, 0 <= days_left <= days_total, paid >= 0")
    return paid * days_left // days_total


def period_refund_quote(
    *, period: MembershipPeriod, order: Order, payment: Payment | None, at
) -> PeriodRefundQuote:
    """The refund of ``period`` (paid by ``order`` through ``payment``) at ``at``. The days
    left are counted at the moment the period ended, if it was ended already."""
    in_window = order.refund_deadline is not None and at < order.refund_deadline
    counted_at = period.ended_at if period.ended_at is not None else at
    days_total = calendar.days_in(starts_at=period.starts_at, ends_at=period.ends_at)
    days_left = calendar.days_left(starts_at=period.starts_at, ends_at=period.ends_at, at=counted_at)
    owed = (
        order.total if in_window else pro_rata(paid=order.total, days_left=days_left, days_total=days_total)
    )
    refunded = order.refunded_amount + (payment.refund_reserved if payment is not None else 0)
    return PeriodRefundQuote(
        in_window=in_window,
        days_total=days_total,
        days_left=days_left,
        paid=order.total,
        owed=owed,
        refunded=refunded,
    )


def period_refund_preview(*, period: MembershipPeriod, at=None) -> tuple[Order, PeriodRefundQuote]:
    """The quote as it stands now (no locks: the issuing recomputes it under them)."""
    order = Order.objects.filter(order_no=period.order_no).first()
    if order is None:
        raise OrderNotFound()
    payment = Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).first()
    return order, period_refund_quote(period=period, order=order, payment=payment, at=at or timezone.now())


def period_refund_issue(*, actor, period_id: int, reason: str) -> Refund:
    """Staff refund a membership period by the rule above and end it at once.

    Four eyes and the journal are those of :func:`payments.services.refund_issue`: above
    the approval threshold a second staff member approves, and the gateway is asked
    after commit. The amount is computed under the order's payment lock, so two issued
    at once are counted one after the other (the second finds nothing left).
    """
    period = MembershipPeriod.objects.filter(pk=period_id).first()
    if period is None:
        raise PeriodNotFound()
    order = Order.objects.filter(order_no=period.order_no).first()
    if order is None:
        raise OrderNotFound()
    if not permissions.may_issue_refund(actor, merchant_id=order.merchant_id):
        raise RefundNotAllowed()
    reason = refund_reason_clean(reason)
    now = timezone.now()
    with transaction.atomic():
        payment = payment_lock_for_refund(order_id=order.pk)
        if payment is None or payment.order.status not in Order.REFUNDABLE_STATUSES:
            raise OrderNotRefundable()
        period.refresh_from_db()
        quote = period_refund_quote(period=period, order=payment.order, payment=payment, at=now)
        if quote.amount <= 0:
            raise PeriodNothingToRefund()
        refund = refund_issue(actor=actor, order_id=order.pk, reason=reason, amount=quote.amount)
        period_end_early(period=period, at=now)
    return refund
