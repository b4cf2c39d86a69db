"""Refunds asked for, issued and decided: learners ask, staff issue, approve, deny or retry,
risk control returns money it blocked.

Over-refunding is refused in three layers: every change to what is refunded or in
flight of a payment happens under the payment's (and its order's) row lock; the
service checks the amount against ``Payment.refundable_amount`` there; and the
database refuses ``refunded + in flight > paid`` (``payment_refunds_within_amount``)
and ``order.refunded_amount > order.total`` whatever the Python says.

Money is reserved on the payment (``refund_reserved``) as soon as a refund is asked
for, and released when it is denied or fails, so two requests can never together
promise more than was paid. An approved refund goes to its gateway after commit, in the
``payments.tasks.process_refund`` task (:mod:`payments.services.refund_gateway` does the
sending), with the refund number as the gateway's idempotency key: a retried task or a
re-sent request never refunds twice.

Four eyes, cumulatively. Each person may sign off at most
``KPAY_REFUND_APPROVAL_THRESHOLD`` of an order's refunds on their own. What a person
has *signed* on an order is the sum of its refunds that are not denied (requested,
approved, processing, succeeded, and failed ones, which a retry sends again on the same
approval) where they are the approver (``approved_by``) or the first approver
(``first_approved_by``); whoever issues a refund is its first approver. An approval
that would take the signer's sum on the order above the threshold (this refund
included) is only a first approval: the refund waits for a second, different staff
member, whose approval sends it whatever their own sum. The sum is read under the
payment's and order's row locks (``payments.locks``) that every opening and approving
of a refund holds, so two refunds by one person fired at once are counted one after
the other. Refunds risk control returns (origin ``risk``) are outside the rule: the
money goes back, in full, to the payer of an order that was not delivered.
"""

from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import statement_guard
from core.tasks import enqueue_on_commit
from core.transitions import apply_transition
from courses import permissions
from orders.exceptions import OrderNotFound
from orders.models import Order
from orders.numbers import new_public_number
from orders.selectors import order_get_for_learner

from .. import locks, selectors
from ..exceptions import (
    InvalidRefundAmount,
    OrderNotRefundable,
    RefundExceedsPaid,
    RefundNotAllowed,
    RefundNotFound,
    RefundReasonRequired,
    RefundStateConflict,
    RefundWindowClosed,
    SecondApproverRequired,
)
from ..models import Payment, Refund, RefundStatusChange
from .refund_mail import refund_learner_notify_on_commit

PROCESS_REFUND_TASK = "payments.tasks.process_refund"


def refund_approval_threshold() -> int:
    """The amount (fen) above which a refund needs two different approvers (four eyes)."""
    return settings.KPAY_REFUND_APPROVAL_THRESHOLD


def refund_needs_two_approvals(
    amount: int, *, signer=None, order_id: int | None = None, refund_id: int | None = None
) -> bool:
    """Whether approving a refund of ``amount`` fen needs a second, different approver
    (four eyes): it does when what ``signer`` has signed on the order (refund
    ``refund_id`` itself left out) plus ``amount`` is above the threshold. Without a
    signer, whether ``amount`` alone is."""
    signed = 0
    if signer is not None and order_id is not None:
        signed = selectors.refund_amount_signed_by(user_id=signer.pk, order_id=order_id, exclude_pk=refund_id)
    return signed + amount > refund_approval_threshold()


def refund_reason_clean(reason: str) -> str:
    """The reason (or note) as stored; an empty one is refused."""
    reason = (reason or "").strip()
    if not reason:
        raise RefundReasonRequired()
    return reason[:255]


def _require_staff(user, may: Callable[..., bool], order: Order) -> None:
    if not may(user, merchant_id=order.merchant_id):
        raise RefundNotAllowed()


# -- asking for and issuing refunds -------------------------------------------------
def refund_request(*, learner, order_no: str, reason: str, amount: int | None = None) -> Refund:
    """A learner asks for (part of) the money of their paid order back, inside the
    refund window. Without an amount, everything left is asked for. Support decides."""
    reason = refund_reason_clean(reason)
    order = order_get_for_learner(learner=learner, order_no=order_no)
    if order is None:
        raise OrderNotFound()
    return _create(
        order_id=order.pk, actor=learner, origin=Refund.Origin.LEARNER, amount=amount, reason=reason
    )


def refund_issue(*, actor, order_id: int, reason: str, amount: int | None = None) -> Refund:
    """Staff refund an order directly, in full (no amount) or in part, whatever its
    status as long as it was paid (completed orders included: the merchant is charged
    back). The issuer is the refund's first approver: while what they have signed on the
    order stays within the approval threshold (module docstring) the refund goes to the
    gateway at once; beyond it a second, different staff member must approve."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        raise OrderNotFound()
    _require_staff(actor, permissions.may_issue_refund, order)
    reason = refund_reason_clean(reason)
    return _create(order_id=order.pk, actor=actor, origin=Refund.Origin.STAFF, amount=amount, reason=reason)


def refund_issue_for_risk(*, order_id: int, reason: str) -> Refund:
    """Give a payment risk control blocked back to its payer, in full, at once: money
    that must be returned, to whom it came from, waits for nobody (no four eyes)."""
    return _create(order_id=order_id, actor=None, origin=Refund.Origin.RISK, amount=None, reason=reason)


def refund_issue_for_risk_review(*, actor, order_id: int, reason: str) -> Refund:
    """Refund, in full and at once, an order risk control held (paid, not delivered) that
    risk staff ``actor`` rejected (``riskcontrol.services.review_decide``). The only refund
    risk staff make: it asks :func:`~courses.permissions.may_review_risk`, not
    ``issue_refund``, and refuses any order that is not paid and undelivered. Recorded as
    origin ``risk`` with ``actor`` as requester and approver.

    No second approver, whatever the amount: the whole payment goes back to the payer of
    an order that was never delivered (a refund always returns to the payment's own
    account), so nobody can move money anywhere else this way; and holding the refund for
    a second person would keep a payment risk control rejected. The decision itself is
    recorded (``riskcontrol.ReviewDecision``: who, when, why)."""
    if not permissions.may_review_risk(actor):
        raise RefundNotAllowed()
    return _create(
        order_id=order_id, actor=actor, origin=Refund.Origin.RISK, amount=None, reason=reason, held_only=True
    )


def _create(
    *, order_id: int, actor, origin: str, amount: int | None, reason: str, held_only: bool = False
) -> Refund:
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0):
        raise InvalidRefundAmount()
    now = timezone.now()
    with transaction.atomic():
        payment = locks.payment_lock_for_refund(order_id=order_id)
        if payment is None:
            raise OrderNotRefundable()
        order = payment.order
        learner = origin == Refund.Origin.LEARNER
        allowed = Order.LEARNER_REFUNDABLE_STATUSES if learner else Order.REFUNDABLE_STATUSES
        if order.status not in allowed or (held_only and order.status != Order.Status.PAID):
            raise OrderNotRefundable()
        if learner and not order.learner_may_request_refund(now=now):
            raise RefundWindowClosed()
        left = payment.refundable_amount
        amount = left if amount is None else amount
        if amount <= 0 or amount > left:
            raise RefundExceedsPaid()
        refund, opened = refund_open(
            payment,
            actor=actor,
            origin=origin,
            amount=amount,
            reason=reason,
            at=now,
            transition="request" if learner else "issue",
        )
        changes = [opened]
        if origin == Refund.Origin.RISK:
            changes.append(refund_approve_at_once(refund, actor=actor, note=reason, at=now))
        elif not learner:
            changes.append(refund_approve_step(refund, actor=actor, note=reason, at=now))
        RefundStatusChange.objects.bulk_create(changes)
    return refund


def refund_open(
    payment: Payment, *, actor, origin: str, amount: int, reason: str, at, transition: str
) -> tuple[Refund, RefundStatusChange]:
    """Reserve ``amount`` on a locked payment and open a (requested) refund for it;
    returns the refund and its first status change (unsaved)."""
    payment.refund_reserved += amount
    try:
        with statement_guard():
            payment.save(update_fields=["refund_reserved"])
    except IntegrityError as exc:  # the database's word on over-refunding
        raise RefundExceedsPaid() from exc
    refund = Refund.objects.create(
        refund_no=new_public_number("R"),
        payment=payment,
        order=payment.order,
        merchant_id=payment.merchant_id,
        amount=amount,
        currency=payment.currency,
        reason=reason,
        origin=origin,
        requested_by=actor,
        created_at=at,
    )
    opened = RefundStatusChange(
        refund=refund,
        from_status="",
        to_status=refund.status,
        transition=transition,
        actor=actor,
        reason=reason,
        created_at=at,
    )
    return refund, opened


def refund_approve_step(refund: Refund, *, actor, note: str, at) -> RefundStatusChange:
    """One approval of a requested refund whose payment (and order) ``actor``'s caller
    holds locked: the second approval of a refund someone else approved first; the first
    of two when what ``actor`` has signed on the order with this refund is above the
    threshold (four eyes, module docstring); else the approval that sends it to the
    gateway after commit. Returns its status change (unsaved)."""
    if refund.first_approved_by_id is not None:
        if refund.first_approved_by_id == actor.pk:
            raise SecondApproverRequired()
        needs_two = True
    else:
        needs_two = refund_needs_two_approvals(
            refund.amount, signer=actor, order_id=refund.order_id, refund_id=refund.pk
        )
    if needs_two and refund.first_approved_by_id is None:
        change = apply_transition(
            refund,
            "approve_first",
            history_model=RefundStatusChange,
            actor=actor,
            reason=note,
            at=at,
            by=actor,
        )
        refund.save(update_fields=["first_approved_by"])
        return change
    change = _decide(refund, "approve", actor=actor, note=note, at=at)
    refund.save(update_fields=["status", "approved_by", "decided_by", "decided_at", "decision_note"])
    enqueue_on_commit(PROCESS_REFUND_TASK, refund_id=refund.pk)
    return change


def _decide(refund: Refund, name: str, *, actor, note: str, at) -> RefundStatusChange:
    """Approve or deny a locked refund (transition ``name``), ``actor`` deciding with
    ``note``; a refund no longer requested is a :class:`RefundStateConflict`."""
    change = apply_transition(
        refund, name, history_model=RefundStatusChange, actor=actor, reason=note, at=at, by=actor, note=note
    )
    if change is None:
        raise RefundStateConflict()
    return change


def refund_approve_at_once(refund: Refund, *, actor, note: str, at) -> RefundStatusChange:
    """Approve, with no second approver, a refund that only returns money to where it came
    from: risk control's (``actor`` the risk staff member who rejected the held order, or
    None for an automatic block) and kpay's own return of an unapplied payment (None).
    Sends it to the gateway after commit; returns the unsaved history row."""
    change = apply_transition(
        refund,
        "approve",
        history_model=RefundStatusChange,
        actor=actor,
        reason=note,
        at=at,
        by=actor,
        note=note,
    )
    refund.save(update_fields=["status", "approved_by", "decided_by", "decided_at", "decision_note"])
    enqueue_on_commit(PROCESS_REFUND_TASK, refund_id=refund.pk)
    return change


# -- staff decisions -----------------------------------------------------------------
def _staff_refund(refund_id: int, actor) -> Refund:
    """The refund ``actor`` is about to decide, if they may approve refunds of its merchant."""
    refund = selectors.refund_get(pk=refund_id)
    if refund is None:
        raise RefundNotFound()
    _require_staff(actor, permissions.may_approve_refund, refund.order)
    return refund


def _locked_in(status: str, *, refund_id: int) -> tuple[Payment, Refund]:
    """Lock the refund and its payment; a refund no longer in ``status`` (someone decided
    first) is a :class:`RefundStateConflict`."""
    payment, refund = locks.refund_lock_with_payment(refund_id=refund_id)
    if refund.status != status:
        raise RefundStateConflict()
    return payment, refund


def refund_approve(*, actor, refund_id: int, note: str = "") -> Refund:
    """Approve a requested refund. Above the threshold, the first approval is recorded
    and the refund waits for a second, different staff member."""
    _staff_refund(refund_id, actor)
    now = timezone.now()
    with transaction.atomic():
        _payment, refund = _locked_in(Refund.Status.REQUESTED, refund_id=refund_id)
        refund_approve_step(refund, actor=actor, note=(note or "").strip()[:255], at=now).save()
    return refund


def refund_deny(*, actor, refund_id: int, note: str) -> Refund:
    """Refuse a requested refund, saying why; its amount is free to refund again."""
    _staff_refund(refund_id, actor)
    note = refund_reason_clean(note)
    now = timezone.now()
    with transaction.atomic():
        payment, refund = locks.refund_lock_with_payment(refund_id=refund_id)
        change = _decide(refund, "deny", actor=actor, note=note, at=now)
        payment.refund_reserved -= refund.amount
        payment.save(update_fields=["refund_reserved"])
        refund.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        change.save()
        refund_learner_notify_on_commit(refund=refund, order=payment.order)
    return refund


def refund_retry(*, actor, refund_id: int, note: str = "") -> Refund:
    """Send a failed refund to the gateway again (same refund number), if what it
    would refund is still available."""
    _staff_refund(refund_id, actor)
    now = timezone.now()
    with transaction.atomic():
        payment, refund = _locked_in(Refund.Status.FAILED, refund_id=refund_id)
        if refund.amount > payment.refundable_amount:
            raise RefundExceedsPaid()
        change = apply_transition(
            refund,
            "submit",
            history_model=RefundStatusChange,
            actor=actor,
            reason=(note or "retried by staff")[:255],
            at=now,
        )
        payment.refund_reserved += refund.amount
        payment.save(update_fields=["refund_reserved"])
        refund.save(update_fields=["status", "submitted_at", "failure_message", "attempts"])
        change.save()
        enqueue_on_commit(PROCESS_REFUND_TASK, refund_id=refund.pk)
    return refund
