"""Row locks on coupons. A coupon is locked alone (a claim) or before the order it
prices is written (checkout), never while an order or payment lock is held: releasing,
consuming and returning a redemption touch only the redemption, under its order's lock.
So the project's lock order (README, "Lock order") starts: coupon → merchant → payment
with its order → order alone → …
"""

from django.db.models import Exists, OuterRef

from .models import Coupon, PointsLot


def _covers(course_id: int | None):
    return Exists(Coupon.courses.through.objects.filter(coupon_id=OuterRef("pk"), course_id=course_id))


def coupon_lock(*, coupon_id: int) -> Coupon | None:
    return Coupon.objects.select_for_update(of=("self",)).filter(pk=coupon_id).first()


def coupon_lock_by_code(*, code: str, course_id: int | None) -> Coupon | None:
    """The code coupon, locked, with ``covers_course`` (the course is one of its chosen courses)."""
    return (
        Coupon.objects.select_for_update(of=("self",))
        .annotate(covers_course=_covers(course_id))
        .filter(code=code)
        .first()
    )


def points_lots_lock(*, learner_id: int, at):
    """The learner's lots with points left and not expired at ``at``, oldest first,
    locked (deducting, clawing back). A learner's lots are always locked **last**: after
    the coupon and the order's INSERT at checkout, after the payment with its order on a
    refund or a settlement, after the order on a cancel; several lots in (expires_at, pk)
    order. So the lock order ends: … → refunds → points lots."""
    return list(
        PointsLot.objects.select_for_update()
        .filter(learner_id=learner_id, remaining__gt=0, expires_at__gt=at)
        .order_by("expires_at", "pk")
    )


def points_debts_lock(*, learner_id: int):
    """The learner's unpaid points debts, oldest first, locked (earning pays them off)."""
    return list(
        PointsLot.objects.select_for_update()
        .filter(learner_id=learner_id, source=PointsLot.Source.DEBT, remaining__lt=0)
        .order_by("created_at", "pk")
    )


# Spending points at checkout, in the order's own INSERT statement on PostgreSQL (the
# paid-order path has a statement budget; orders composes the statement, the new order's
# id comes from its CTE ``placed``): lock the learner's usable lots oldest first, take
# ``points`` from them in that order, write one history row per lot touched; ``taken``
# says how many points were taken (fewer than asked: the caller refuses and the
# transaction rolls back). The FOR UPDATE waits for a concurrent spender and then sees
# its result, and the database refuses a lot below zero anyway.
POINTS_TAKE_CTES = """locked AS (
    SELECT id, remaining, expires_at FROM {lots}
    WHERE learner_id = %s AND remaining > 0 AND expires_at > %s
    ORDER BY expires_at, id
    FOR UPDATE
), plan AS (
    SELECT id, LEAST(remaining, GREATEST(0, %s - (running - remaining))) AS take
    FROM (SELECT id, remaining, SUM(remaining) OVER (ORDER BY expires_at, id) AS running FROM locked) s
), taken AS (
    UPDATE {lots} SET remaining = {lots}.remaining - plan.take
    FROM plan WHERE {lots}.id = plan.id AND plan.take > 0
    RETURNING {lots}.id, plan.take
), spent AS (
    INSERT INTO {entries} (learner_id, lot_id, kind, points, order_id, actor_id, reason, created_at)
    SELECT %s, taken.id, %s, -taken.take, placed.id, %s, %s, %s FROM taken, placed
)"""


def points_lots_lock_by_id(*, lot_ids):
    """Given lots, locked oldest first (giving back an unpaid order's points)."""
    return {
        lot.pk: lot
        for lot in PointsLot.objects.select_for_update()
        .filter(pk__in=list(lot_ids))
        .order_by("expires_at", "pk")
    }


def points_lots_lock_expired(*, learner_id: int, at):
    """The learner's lots past their expiry with points left, oldest first, locked."""
    return list(
        PointsLot.objects.select_for_update()
        .filter(learner_id=learner_id, remaining__gt=0, expires_at__lte=at)
        .order_by("expires_at", "pk")
    )
