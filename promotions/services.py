"""Every write to coupons, wallets and redemptions.

Checkout (``orders``) prices an order with :func:`coupon_reserve` and, in the same
transaction as the order's INSERT, records the use with :func:`redemption_record`; the
order's life cycle then drives the redemption: :func:`redemption_release` when it
closes unpaid, :func:`redemption_consume` when it is paid, :func:`redemption_record_refund`
when money is given back. ``promotions`` never imports ``orders``: orders calls in.

Race safety, each check with its record under one lock in one transaction:

* **claims**: the coupon row is locked, the learner's wallet coupons counted, the
  ``issued`` counter raised (the database refuses it above ``quantity``) and the wallet
  coupon written;
* **code coupons**: the coupon row is locked at checkout and the redemption is written
  by an INSERT guarded by the counts of active uses (in total and the learner's), which
  runs after the lock is held and so sees every committed use (on PostgreSQL it travels
  in the order's own INSERT statement: :func:`redemption_record_cte`);
* **wallet coupons**: the database allows one active redemption per wallet coupon.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from core.money import prorate
from core.transitions import apply_transition

from . import selectors
from .exceptions import (
    CouponAlreadyUsed,
    CouponExhausted,
    CouponExpired,
    CouponLimitReached,
    CouponMinimumNotMet,
    CouponNotAllowed,
    CouponNotApplicable,
    CouponNotFound,
)
from .locks import coupon_lock, coupon_lock_by_code
from .models import Coupon, Redemption, RedemptionStatusChange, WalletCoupon


@dataclass(frozen=True)
class Pricing:
    """A server-side price: the list price (subtotal), what a coupon takes off, what
    points pay (always 0 until points exist), and what the learner pays (total).
    ``platform_discount`` is the part of the discount the platform funds."""

    subtotal: int
    discount: int = 0
    points_used: int = 0
    platform_discount: int = 0
    coupon: Coupon | None = None
    wallet_coupon_id: int | None = None

    @property
    def total(self) -> int:
        return self.subtotal - self.discount - self.points_used


def normalize_code(code: str) -> str:
    return code.strip().upper()


def discount_reversed(*, discount: int, refunded: int, paid: int) -> int:
    """How much of a ``discount`` refunds have taken back once ``refunded`` of the
    ``paid`` amount went back: ``round_half_up(discount × refunded / paid)`` in integers.

    Cumulative, like the commission's rule in ``payments.ledger``: each refund takes the
    difference between the figure after it and before it, so no fen is created or lost
    and a full refund (in one go or in parts) takes back the whole discount.
    """
    return prorate(discount, refunded, paid)


# -- checkout ------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """What a coupon is checked against: one order line's merchant, currency, price and
    (for a course) the course."""

    merchant_id: int
    currency: str
    price: int
    course_id: int | None


def coupon_reserve(
    *, learner, merchant_id: int, currency: str, price: int, course_id: int | None, coupon: str, at
) -> Pricing:
    """Price one order line (``price`` in fen, sold by ``merchant_id``; ``course_id``
    when the line is a course) for ``learner`` with ``coupon``: the id of one of the
    learner's wallet coupons, or a public code. Call inside the transaction that writes
    the order: a code coupon stays locked until it ends, and :func:`redemption_record`
    must follow. Raises a :class:`~promotions.exceptions.PromotionError` naming what is
    wrong."""
    item = _Item(merchant_id=merchant_id, currency=currency, price=price, course_id=course_id)
    ref = str(coupon).strip()
    if not ref:
        raise CouponNotFound()
    if ref.isdigit():
        wallet = selectors.wallet_coupon_for_checkout(
            learner=learner, wallet_coupon_id=int(ref), course_id=course_id
        )
        if wallet is not None:
            _check_applies(wallet.coupon, item=item, covers_course=wallet.covers_course, at=at)
            return _priced(wallet.coupon, item=item, wallet_coupon_id=wallet.pk)
    found = coupon_lock_by_code(code=normalize_code(ref)[:32], course_id=course_id)
    if found is None:
        raise CouponNotFound()
    _check_applies(found, item=item, covers_course=found.covers_course, at=at)
    return _priced(found, item=item)


def _check_applies(coupon: Coupon, *, item: _Item, covers_course: bool, at) -> None:
    if not coupon.is_valid_at(at):
        raise CouponExpired()
    in_scope = (
        coupon.scope == Coupon.Scope.ALL
        or (coupon.scope == Coupon.Scope.MERCHANT and coupon.merchant_id == item.merchant_id)
        or (coupon.scope == Coupon.Scope.COURSES and item.course_id is not None and covers_course)
    )
    if coupon.funded_by == Coupon.Funding.MERCHANT and coupon.merchant_id != item.merchant_id:
        in_scope = False
    if not in_scope or coupon.currency != item.currency:
        raise CouponNotApplicable.for_item(is_course=item.course_id is not None)
    if item.price < coupon.min_spend:
        raise CouponMinimumNotMet()
    if coupon.discount_for(item.price) <= 0:
        raise CouponNotApplicable.for_item(is_course=item.course_id is not None)


def _priced(coupon: Coupon, *, item: _Item, wallet_coupon_id: int | None = None) -> Pricing:
    discount = coupon.discount_for(item.price)
    return Pricing(
        subtotal=item.price,
        discount=discount,
        platform_discount=discount if coupon.funded_by == Coupon.Funding.PLATFORM else 0,
        coupon=coupon,
        wallet_coupon_id=wallet_coupon_id,
    )


# -- checkout's writes --------------------------------------------------------------
#
# On PostgreSQL the order, its coupon's redemption and the points it spends are one
# INSERT statement (core.db: data-modifying CTEs; orders composes it): the fragments
# below are the redemption's part, reading the new order's id from the CTE ``placed``.
# Elsewhere (the embedded SQLite default) :func:`redemption_record` writes it with the
# ORM after the order's INSERT, in the same transaction.

_REDEEM_CTE = """redeemed AS (
    INSERT INTO {table} (coupon_id, wallet_coupon_id, learner_id, order_id, merchant_id, amount,
                         funded_by, reversed_amount, status, created_at)
    SELECT %s, %s, %s, placed.id, %s, %s, %s, 0, %s, %s FROM placed
    WHERE {guard}
    RETURNING id
)"""
# A code coupon: fewer active uses than its quantity, in total and the learner's. The
# coupon row is locked (coupon_reserve) by an earlier statement of the transaction, so
# this statement's snapshot sees every committed use.
_CODE_GUARD = """(SELECT count(*) FROM {table} WHERE coupon_id = %s AND status = ANY(%s)) < %s
      AND (SELECT count(*) FROM {table} WHERE coupon_id = %s AND learner_id = %s AND status = ANY(%s)) < %s"""
# A wallet coupon: not in use (and the database allows one active redemption of it).
_WALLET_GUARD = """NOT EXISTS (SELECT 1 FROM {table} WHERE wallet_coupon_id = %s AND status = ANY(%s))"""


def redemption_record_cte(*, pricing: Pricing, learner_id: int, merchant_id: int, at) -> tuple[str, list]:
    """The CTE ``redeemed``: the reservation of ``pricing``'s coupon for the order the
    CTE ``placed`` inserts, or nothing when the coupon may not be used (then
    :func:`redemption_refused` says why and the caller rolls back)."""
    coupon = pricing.coupon
    table = Redemption._meta.db_table
    active = [s.value for s in Redemption.ACTIVE_STATUSES]
    if pricing.wallet_coupon_id is not None:
        guard, guard_params = _WALLET_GUARD.format(table=table), [pricing.wallet_coupon_id, active]
    else:
        guard = _CODE_GUARD.format(table=table)
        guard_params = [
            coupon.pk,
            active,
            coupon.quantity,
            coupon.pk,
            learner_id,
            active,
            coupon.per_learner_limit,
        ]
    params = [
        coupon.pk,
        pricing.wallet_coupon_id,
        learner_id,
        merchant_id,
        pricing.discount,
        coupon.funded_by,
        Redemption.Status.RESERVED.value,
        at,
    ]
    return _REDEEM_CTE.format(table=table, guard=guard), params + guard_params


def redemption_refused(*, pricing: Pricing, learner_id: int) -> Exception:
    """Why ``pricing``'s coupon could not be reserved (called after the refusal)."""
    if pricing.wallet_coupon_id is not None:
        return CouponAlreadyUsed()
    uses = Redemption.objects.filter(coupon=pricing.coupon, status__in=Redemption.ACTIVE_STATUSES).aggregate(
        total=Count("pk"), mine=Count("pk", filter=Q(learner_id=learner_id))
    )
    if uses["total"] >= pricing.coupon.quantity:
        return CouponExhausted()
    return CouponLimitReached()


def redemption_record(*, pricing: Pricing, order, at) -> Redemption | None:
    """Write the reservation of ``pricing``'s coupon for ``order`` (just inserted, same
    transaction) with the ORM, or refuse it: the path of databases without
    data-modifying CTEs (see :func:`redemption_record_cte`). None without a coupon."""
    coupon = pricing.coupon
    if coupon is None:
        return None
    active = Redemption.objects.filter(status__in=Redemption.ACTIVE_STATUSES)
    if pricing.wallet_coupon_id is not None:
        in_use = active.filter(wallet_coupon_id=pricing.wallet_coupon_id).exists()
    else:
        uses = active.filter(coupon=coupon).aggregate(
            total=Count("pk"), mine=Count("pk", filter=Q(learner_id=order.learner_id))
        )
        in_use = uses["total"] >= coupon.quantity or uses["mine"] >= coupon.per_learner_limit
    if in_use:
        raise redemption_refused(pricing=pricing, learner_id=order.learner_id)
    return Redemption.objects.create(
        coupon_id=coupon.pk,
        wallet_coupon_id=pricing.wallet_coupon_id,
        learner_id=order.learner_id,
        order_id=order.pk,
        merchant_id=order.merchant_id,
        amount=pricing.discount,
        funded_by=coupon.funded_by,
        status=Redemption.Status.RESERVED,
        created_at=at,
    )


# -- the order's life cycle (called by orders, under the order's row lock) --------------


_CONSUME_CTES = """consumed AS (
    UPDATE {table} SET status = %s, consumed_at = %s
    WHERE order_id = %s AND status = %s
    RETURNING id
), consumed_history AS (
    INSERT INTO {history} (redemption_id, from_status, to_status, transition, actor_id, reason, created_at)
    SELECT id, %s, %s, 'consume', NULL, %s, %s FROM consumed
)"""


def redemption_consume_ctes(*, order_id: int, at, reason: str = "order paid") -> tuple[str, list]:
    """The order was paid: its reserved redemption is consumed, as CTEs (``consumed``,
    ``consumed_history``) that orders sends in the same statement as the order's own
    history (PostgreSQL; the paid-order path has a statement budget). The same change as
    ``Redemption.consume`` and its history row, written in SQL."""
    reserved, consumed = Redemption.Status.RESERVED.value, Redemption.Status.CONSUMED.value
    sql = _CONSUME_CTES.format(table=Redemption._meta.db_table, history=RedemptionStatusChange._meta.db_table)
    return sql, [consumed, at, order_id, reserved, reserved, consumed, reason[:255], at]


def redemption_consume(*, order_id: int, at, reason: str = "order paid") -> int:
    """The order was paid: its reserved redemption is consumed (the ORM's path, for
    databases without data-modifying CTEs). Returns how many (0 or 1)."""
    redemption = Redemption.objects.filter(order_id=order_id, status=Redemption.Status.RESERVED).first()
    if redemption is None:
        return 0
    change = apply_transition(
        redemption, "consume", history_model=RedemptionStatusChange, reason=reason, at=at
    )
    redemption.save(update_fields=["status", "consumed_at"])
    change.save()
    return 1


def redemption_release(*, order_id: int, at, actor=None, reason: str) -> Redemption | None:
    """The order closed unpaid: its coupon is free again (a wallet coupon back in the
    wallet, a code's use given back). None if it had no reserved redemption."""
    redemption = Redemption.objects.filter(order_id=order_id, status=Redemption.Status.RESERVED).first()
    if redemption is None:
        return None
    change = apply_transition(
        redemption, "release", history_model=RedemptionStatusChange, actor=actor, reason=reason, at=at
    )
    redemption.save(update_fields=["status", "closed_at"])
    change.save()
    return redemption


def redemption_record_refund(
    *, order_id: int, refunded: int, paid: int, at, actor=None, reason: str
) -> Redemption | None:
    """Money was given back for a paid order (``refunded`` of ``paid`` in total): the
    discount is taken back in proportion (:func:`discount_reversed`), and a full refund
    returns the coupon to the learner while it is still valid, unless
    ``KPAY_COUPON_RETURN_ON_FULL_REFUND`` is off. None if the order used no coupon."""
    redemption = (
        Redemption.objects.select_related("coupon")
        .filter(order_id=order_id, status=Redemption.Status.CONSUMED)
        .first()
    )
    if redemption is None:
        return None
    redemption.reversed_amount = discount_reversed(discount=redemption.amount, refunded=refunded, paid=paid)
    fields = ["reversed_amount"]
    change = None
    full = refunded == paid
    if full and settings.KPAY_COUPON_RETURN_ON_FULL_REFUND and redemption.coupon.is_valid_at(at):
        change = apply_transition(
            redemption,
            "give_back",
            history_model=RedemptionStatusChange,
            actor=actor,
            reason=f"{reason}: returned to the learner",
            at=at,
        )
        fields += ["status", "closed_at"]
    redemption.save(update_fields=fields)
    if change is not None:
        change.save()
    return redemption


# -- wallets ------------------------------------------------------------------------


def _issue(*, coupon_id: int, learner_ids, at, source, actor=None, reason="", check_limit: bool):
    coupon = coupon_lock(coupon_id=coupon_id)
    if coupon is None or coupon.is_code:
        raise CouponNotFound()
    if not coupon.is_valid_at(at):
        raise CouponExpired()
    if coupon.issued + len(learner_ids) > coupon.quantity:
        raise CouponExhausted()
    if check_limit:
        held = WalletCoupon.objects.filter(coupon=coupon, learner_id__in=learner_ids).values("learner_id")
        counts = {row["learner_id"]: row["n"] for row in held.annotate(n=Count("pk"))}
        if any(counts.get(learner_id, 0) >= coupon.per_learner_limit for learner_id in learner_ids):
            raise CouponLimitReached()
    Coupon.objects.filter(pk=coupon.pk).update(issued=F("issued") + len(learner_ids))
    return WalletCoupon.objects.bulk_create(
        WalletCoupon(
            coupon=coupon,
            learner_id=learner_id,
            source=source,
            granted_by=actor,
            reason=reason[:255],
            created_at=at,
        )
        for learner_id in learner_ids
    )


def coupon_claim(*, learner, coupon_id: int) -> WalletCoupon:
    """The learner claims an issued coupon into their wallet (领券), within the coupon's
    quantity and the learner's limit."""
    with transaction.atomic():
        (wallet,) = _issue(
            coupon_id=coupon_id,
            learner_ids=[learner.pk],
            at=timezone.now(),
            source=WalletCoupon.Source.CLAIMED,
            check_limit=True,
        )
    return wallet


def coupon_grant(*, actor, coupon_id: int, learner_ids, reason: str) -> list[WalletCoupon]:
    """Staff put an issued coupon into chosen learners' wallets (one each), within the
    coupon's quantity; the per-learner limit binds claims only."""
    learner_ids = sorted(set(learner_ids))
    if not learner_ids:
        return []
    with transaction.atomic():
        return _issue(
            coupon_id=coupon_id,
            learner_ids=learner_ids,
            at=timezone.now(),
            source=WalletCoupon.Source.GRANTED,
            actor=actor,
            reason=reason,
            check_limit=False,
        )


# -- the coupon itself (admin) ----------------------------------------------------------


def coupon_check_scope(*, funded_by: str, merchant, scope: str, courses) -> None:
    """A merchant's coupon covers that merchant's own courses, never every course."""
    if funded_by != Coupon.Funding.MERCHANT:
        if merchant is not None and any(course.merchant_id != merchant.pk for course in courses):
            raise CouponNotAllowed()
        return
    if merchant is None or scope == Coupon.Scope.ALL:
        raise CouponNotAllowed()
    if any(course.merchant_id != merchant.pk for course in courses):
        raise CouponNotAllowed()


def coupon_save(*, actor, coupon: Coupon, courses=None) -> Coupon:
    """Create or change a coupon (the admin): its code normalized, its scope checked."""
    if coupon.code:
        coupon.code = normalize_code(coupon.code)
    else:
        coupon.code = None
    chosen = list(courses) if courses is not None else list(coupon.courses.all()) if coupon.pk else []
    coupon_check_scope(
        funded_by=coupon.funded_by, merchant=coupon.merchant, scope=coupon.scope, courses=chosen
    )
    if coupon.pk is None:
        coupon.created_by = actor
    with transaction.atomic():
        coupon.save()
        if courses is not None:
            coupon.courses.set(chosen)
    return coupon
