"""Every write to orders. Amounts are computed here, never taken from a client."""

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.db import (
    db_ctes,
    db_insert_rows,
    db_update,
    insert_sql,
    one_statement_writes,
    statement_guard,
    with_ctes,
)
from core.http import UNKNOWN_CLIENT, ClientInfo
from core.risk import CheckoutContext, assess_checkout
from core.transitions import apply_transition, transition_row
from promotions.exceptions import PointsInsufficient
from promotions.points import (
    points_check,
    points_record_refund,
    points_release,
    points_take,
    points_take_ctes,
    points_value,
)
from promotions.services import (
    Pricing,
    coupon_reserve,
    redemption_consume,
    redemption_consume_ctes,
    redemption_record,
    redemption_record_cte,
    redemption_record_refund,
    redemption_refused,
    redemption_release,
)

from . import attribution, hot_checkout, selectors
from .delivery import order_lines_grant, order_lines_revoke
from .exceptions import (
    CheckoutRefused,
    CourseAlreadyOwned,
    CourseNotAvailable,
    CoursePaymentUnderReview,
    OpenOrderOtherPoints,
    OpenOrderWithoutCoupon,
    OrderNotCancellable,
    OrderNotFound,
    OrderStateConflict,
)
from .locks import order_lock
from .models import Order, OrderLine, OrderStatusChange
from .numbers import new_public_number
from .signals import order_closed


@dataclass(frozen=True)
class CheckoutResult:
    order: Order
    created: bool


@dataclass(frozen=True)
class Purchase:
    """What one checkout sells, priced on the server: one order line, the merchant who
    sells it, and what checkout needs to know about it.

    A course is the first kind (:func:`order_checkout`); other kinds (a membership
    period) are built by their own app and placed through :func:`order_place`.
    """

    line: OrderLine
    merchant_id: int
    currency: str
    # One open order per learner and key (what is being bought).
    checkout_key: str
    # The courses the line grants directly (enrollment on delivery, risk rules, a
    # coupon's chosen courses); empty for a kind that grants access otherwise.
    course_ids: tuple[int, ...] = ()

    @property
    def price(self) -> int:
        return self.line.amount


def order_checkout(
    *,
    learner,
    course_slug: str,
    client: ClientInfo = UNKNOWN_CLIENT,
    coupon: str | None = None,
    points: int | None = None,
    referral=None,
) -> CheckoutResult:
    """Place an order for one course, or hand back the learner's open order for it.

    A course this process sold before is placed in one statement (``orders.hot_checkout``,
    PostgreSQL, without a coupon or points): the course's read travels in the order's
    INSERT, which runs only if the course is still as known; otherwise checkout goes the
    ordinary way below."""
    if not coupon and points is None:
        purchase, guard = hot_checkout.known_course(learner=learner, slug=course_slug)
        if purchase is not None:
            try:
                return order_place(
                    learner=learner, purchase=purchase, client=client, referral=referral, guard=guard
                )
            except (hot_checkout.CourseChanged, CheckoutRefused):
                pass  # nothing written: decide on the course as it is, the ordinary way
    course = selectors.course_for_checkout(learner=learner, slug=course_slug)
    if course is None:
        raise CourseNotAvailable()
    if course.owned:
        raise CourseAlreadyOwned()
    if course.held:
        raise CoursePaymentUnderReview()
    line = OrderLine(
        course_id=course.pk,
        course_slug=course.slug,
        title=course.title,
        unit_price=course.price,
        quantity=1,
        amount=course.price,
    )
    purchase = Purchase(
        line=line,
        merchant_id=course.merchant_id,
        currency=course.currency,
        checkout_key=selectors.checkout_key_for([course.pk]),
        course_ids=(course.pk,),
    )
    hot_checkout.remember(course, purchase)  # for the next checkout of this course
    return order_place(
        learner=learner, purchase=purchase, client=client, coupon=coupon, points=points, referral=referral
    )


def order_place(
    *,
    learner,
    purchase: Purchase,
    client: ClientInfo = UNKNOWN_CLIENT,
    coupon: str | None = None,
    points: int | None = None,
    referral=None,
    guard: "hot_checkout.CourseGuard | None" = None,
) -> CheckoutResult:
    """Place an order for ``purchase`` (risk-assessed, priced with a coupon and points),
    or hand back the learner's open order for the same thing.

    Optimistic: placing the order is one INSERT (lines and risk assessment travel in
    the row), and an existing open order for the same purchase is found by the "one
    open order per checkout" constraint refusing it, not looked up beforehand. So
    concurrent checkouts end with one order, and the common case costs two statements.

    With a ``coupon`` (a code or a wallet coupon id) the price comes from
    ``promotions`` and the coupon's reservation commits with the order, in one
    transaction (three statements and a BEGIN/COMMIT more).

    With ``points`` (积分, after the coupon, on what is left: ``promotions.points``)
    they are checked against the cap before anything is written and taken from the
    learner's lots, oldest first, in one statement after the order's INSERT, in the
    same transaction: too few points and nothing is written (one statement, and the
    BEGIN/COMMIT if there is no coupon).

    With a ``referral`` (what ``orders.attribution.referral_from_request`` found) the
    registered attribution names the promoter it earns, if any, before risk control
    (the promoter is one of its inputs), and records it with the order, in the same
    transaction. Without one, nothing more is read or written.

    With a ``guard`` (``orders.hot_checkout``, no coupon nor points) the order's INSERT
    carries the course's read and runs only if it finds the course as ``purchase`` took
    it; otherwise it raises ``hot_checkout.CourseChanged`` and nothing is written.
    """
    now = timezone.now()
    promoter_id = None
    current_attribution = attribution.attribution()
    if referral is not None and current_attribution is not None:
        promoter_id = current_attribution.resolve(
            learner=learner, purchase=purchase, referral=referral, at=now
        )
    context = CheckoutContext(
        learner_id=learner.pk,
        merchant_id=purchase.merchant_id,
        course_ids=purchase.course_ids,
        amount=purchase.price,
        currency=purchase.currency,
        ip=client.ip,
        device_id=client.device_id,
        coupon=str(coupon or "").strip()[:64],
        promoter_id=promoter_id,
    )
    decision = assess_checkout(context)
    if decision.blocked:
        raise CheckoutRefused()

    checkout_key = purchase.checkout_key
    for _attempt in range(2):
        try:
            with statement_guard() if not (coupon or points or promoter_id) else transaction.atomic():
                pricing = (
                    coupon_reserve(
                        learner=learner,
                        merchant_id=purchase.merchant_id,
                        currency=purchase.currency,
                        price=purchase.price,
                        course_id=purchase.course_ids[0] if len(purchase.course_ids) == 1 else None,
                        coupon=coupon,
                        at=now,
                    )
                    if coupon
                    else Pricing(subtotal=purchase.price)
                )
                if points is not None:
                    points = points_check(points=points, subtotal=pricing.subtotal, discount=pricing.discount)
                points_discount = points_value(points) if points else 0
                order = Order(
                    order_no=new_public_number("K"),
                    learner=learner,
                    merchant_id=purchase.merchant_id,
                    checkout_key=checkout_key,
                    subtotal=pricing.subtotal,
                    discount=pricing.discount,
                    platform_discount=pricing.platform_discount,
                    points_used=points or 0,
                    points_discount=points_discount,
                    total=pricing.total - points_discount,
                    currency=purchase.currency,
                    lines=[purchase.line.as_json()],
                    client_ip=client.ip,
                    device_id=(client.device_id or "")[:64],
                    risk_assessment=decision.as_record(stage="checkout", context=context),
                    promoter_id=promoter_id,  # in the order's own INSERT: no statement more
                    expires_at=now + settings.KPAY_ORDER_TTL,
                )
                if guard is not None:
                    hot_checkout.order_insert_guarded(order, guard=guard, at=now)
                else:
                    _order_insert(order, pricing=pricing, points=points or 0, at=now)
                if promoter_id is not None:
                    current_attribution.record(
                        order=order, promoter_id=promoter_id, referral=referral, at=now
                    )
            return CheckoutResult(order, created=True)
        except IntegrityError:
            existing = selectors.open_order_for(learner=learner, checkout_key=checkout_key)
            if existing is None:
                continue  # it closed in the meantime: try again
            if existing.expires_at > now:
                if coupon and not existing.discount:
                    raise OpenOrderWithoutCoupon() from None  # never drop a coupon silently
                if points and existing.points_used != points:
                    raise OpenOrderOtherPoints() from None  # nor points asked for
                return CheckoutResult(existing, created=False)
            order_expire(order_id=existing.pk, reason="payment deadline passed")
    raise OrderStateConflict()


def _order_insert(order: Order, *, pricing: Pricing, points: int, at) -> None:
    """INSERT the order with its coupon's reservation and the points it spends.

    On PostgreSQL, one statement: the order's INSERT as the CTE ``placed``, the
    redemption (``promotions.services.redemption_record_cte``) and the points
    (``promotions.points.points_take_ctes``) reading its id. It replaces an INSERT each
    for the order, the redemption and the points: two round trips of the paid-order
    path's statement budget. Elsewhere, the ORM writes them one after the other. Either
    way a refused coupon or too few points raise, and the caller's transaction rolls the
    order back.
    """
    if not (pricing.coupon or points) or not one_statement_writes():
        order.save(force_insert=True)
        redemption_record(pricing=pricing, order=order, at=at)
        if points:
            points_take(order=order, points=points, at=at)
        return
    insert, params = insert_sql([order])
    ctes = [(f"placed AS ({insert})", params)]
    if pricing.coupon:
        ctes.append(
            redemption_record_cte(
                pricing=pricing, learner_id=order.learner_id, merchant_id=order.merchant_id, at=at
            )
        )
    if points:
        ctes.append(
            points_take_ctes(
                learner_id=order.learner_id, points=points, at=at, reason=f"order {order.order_no}"
            )
        )
    redeemed_sql = "(SELECT id FROM redeemed)" if pricing.coupon else "NULL"
    taken_sql = "(SELECT COALESCE(SUM(take), 0) FROM taken)" if points else "0"
    final = (f"SELECT (SELECT id FROM placed), {redeemed_sql}, {taken_sql}", [])  # noqa: S608 (constants only)
    with connection.cursor() as cursor:
        cursor.execute(*with_ctes(ctes, final))
        order_id, redemption_id, taken = cursor.fetchone()
    order.pk = order_id
    order._state.adding = False
    order._state.db = connection.alias
    if pricing.coupon and redemption_id is None:
        raise redemption_refused(pricing=pricing, learner_id=order.learner_id)
    if taken < points:
        raise PointsInsufficient()


def _close(*, order_id: int, transition: str, actor=None, reason: str) -> Order | None:
    """Cancel or expire an unpaid order; None (and no change) if it is no longer unpaid."""
    now = timezone.now()
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        change = apply_transition(
            order, transition, history_model=OrderStatusChange, actor=actor, reason=reason, at=now
        )
        if change is None:
            return None
        if order.discount:
            redemption_release(order_id=order.pk, at=now, actor=actor, reason=reason)
        if order.points_used:
            points_release(order=order, at=now, actor=actor, reason=reason)
        order.save(update_fields=["status", "closed_at"])
        change.save()
        transaction.on_commit(lambda: order_closed.send(sender=Order, order=order))
    return order


def order_cancel(*, learner, order_no: str, reason: str = "") -> Order:
    """The learner gives up an unpaid order. Its gateway trades are closed after commit."""
    order = selectors.order_get_for_learner(learner=learner, order_no=order_no)
    if order is None:
        raise OrderNotFound()
    closed = _close(
        order_id=order.pk, transition="cancel", actor=learner, reason=reason or "cancelled by the learner"
    )
    if closed is None:
        raise OrderNotCancellable()
    return closed


def order_expire(*, order_id: int, reason: str = "payment deadline passed") -> Order | None:
    return _close(order_id=order_id, transition="expire", reason=reason)


def order_record_payment(*, order: Order, at, reason: str, deliver: bool = True) -> None:
    """Mark a locked, unpaid order paid and, unless delivery is held, grant access.

    The caller (payments) holds the order's row lock and has checked the payment.
    """
    # The history rows as values (core.transitions.transition_row): only written.
    changes = [transition_row(order, "mark_paid", history_model=OrderStatusChange, reason=reason, at=at)]
    if changes[0] is None:
        raise OrderStateConflict(f"order {order.order_no} is {order.status}, not awaiting payment")
    if deliver:
        order_lines_grant(order=order, at=at)
        changes.append(
            transition_row(order, "fulfil", history_model=OrderStatusChange, reason="access granted", at=at)
        )
    db_update(order, ["status", "paid_at", "fulfilled_at"])
    db_insert_rows(OrderStatusChange, changes)
    attribution.order_paid(order=order, at=at)  # a referred order's commission; nothing read otherwise
    if order.discount and one_statement_writes():
        # The coupon's consumption as CTEs: with the payment's other writes in one
        # statement (payments.services.payment_capture, core.db).
        db_ctes(redemption_consume_ctes(order_id=order.pk, at=at, reason=reason))
    elif order.discount:
        redemption_consume(order_id=order.pk, at=at, reason=reason)


def order_record_refund(*, order: Order, amount: int, at, actor=None, reason: str) -> None:
    """Money was given back for a locked, paid order: add it to the order's refunded
    amount and move it to partially refunded or refunded. A full refund revokes the
    access the order granted (by each line's kind, :mod:`orders.delivery`); a partial
    one keeps it.

    The caller (payments) holds the order's row lock and has checked the amount; the
    database refuses a refunded amount above the total anyway.
    """
    refunded = order.refunded_amount + amount
    if amount <= 0 or refunded > order.total:
        raise OrderStateConflict(
            f"order {order.order_no}: cannot refund {amount} of {order.refundable_amount}"
        )
    name = "refund_fully" if refunded == order.total else "refund_partially"
    change = apply_transition(
        order,
        name,
        history_model=OrderStatusChange,
        actor=actor,
        reason=reason,
        at=at,
        refunded_amount=refunded,
    )
    if change is None:
        raise OrderStateConflict(f"order {order.order_no} is {order.status}: it cannot be refunded")
    order.save(update_fields=["status", "refunded_amount", "refunded_at"])
    change.save()
    if order.status == Order.Status.REFUNDED:
        # Before the points: a kind's own lock (a membership's) comes before the points
        # lots, which are always locked last (README, "Lock order").
        order_lines_revoke(order=order, at=at)
    if order.discount:
        redemption_record_refund(
            order_id=order.pk, refunded=refunded, paid=order.total, at=at, actor=actor, reason=reason
        )
    if order.points_used or order.completed_at is not None:  # spent points back, earned ones clawed back
        points_record_refund(
            order=order,
            refunded_before=refunded - amount,
            refunded=refunded,
            at=at,
            actor=actor,
            reason=reason,
        )
    attribution.order_refunded(order=order, refunded_before=refunded - amount, at=at)


def order_complete(*, order: Order, at, reason: str = "refund window ended") -> None:
    """Mark a locked, delivered order completed ("receipt confirmed").

    The caller (settlement) holds the order's row lock and has checked that no refund
    is open; it moves the merchant's share to available in the same transaction.
    """
    change = apply_transition(order, "complete", history_model=OrderStatusChange, reason=reason, at=at)
    if change is None:
        raise OrderStateConflict(f"order {order.order_no} is {order.status}: it cannot complete")
    order.save(update_fields=["status", "completed_at"])
    change.save()
    attribution.order_completed(order=order, at=at)


def order_deliver(*, order_id: int, actor=None, reason: str) -> Order:
    """Grant access for a paid order whose delivery was held (risk review)."""
    now = timezone.now()
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        change = apply_transition(
            order, "fulfil", history_model=OrderStatusChange, actor=actor, reason=reason, at=now
        )
        if change is None:
            raise OrderStateConflict()
        order_lines_grant(order=order, at=now)
        order.save(update_fields=["status", "fulfilled_at"])
        change.save()
    return order
