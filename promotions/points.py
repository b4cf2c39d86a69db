"""Every write to points (积分): earning, staff grants and deductions, spending at
checkout, giving back, returning on refunds, clawing back, expiring.

The money rule (see also :mod:`payments.ledger`): a point is worth
``100 // KPAY_POINTS_PER_YUAN_VALUE`` fen (a whole number: the setting divides 100).
Points are a platform liability, ``platform:points_liability`` in the journal, always
equal to the value of the points learners hold (lots' ``remaining``, negative for a
debt) plus those reserved by unpaid orders:

* earned (an order completed: ``KPAY_POINTS_PER_YUAN`` per whole yuan the learner paid,
  net of refunds) or granted by staff: ``points_expense`` → ``points_liability``;
* deducted by staff, expired, clawed back by a refund: back the other way;
* spent: reserved with the order (no posting), paid out of the liability when the order
  is paid, like a platform coupon (the merchant is paid on the price before points);
* returned on refund: ``round_half_up(points_used × refunded / paid)`` points, cumulative
  (no point created or lost), taken back from the merchant and the commission into the
  liability, as a new lot.

Callers: ``orders`` (checkout, close, refund), ``settlement`` (earning at completion),
the admin (grant, deduct) and the beat task (expiry). ``promotions`` never imports them.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.money import FEN_PER_YUAN

from .exceptions import PointsAboveCap, PointsInsufficient, PointsInvalid, PointsReasonRequired
from .locks import (
    POINTS_TAKE_CTES,
    points_debts_lock,
    points_lots_lock,
    points_lots_lock_by_id,
    points_lots_lock_expired,
)
from .models import PointsEntry, PointsLot
from .services import discount_reversed
from .signals import points_booked

Kind = PointsEntry.Kind
Source = PointsLot.Source


def fen_per_point() -> int:
    return FEN_PER_YUAN // settings.KPAY_POINTS_PER_YUAN_VALUE


def points_value(points: int) -> int:
    """What ``points`` are worth in fen."""
    return points * fen_per_point()


def points_earned_for(paid: int) -> int:
    """Points for ``paid`` fen: ``KPAY_POINTS_PER_YUAN`` per whole yuan."""
    return max(0, paid) * settings.KPAY_POINTS_PER_YUAN // FEN_PER_YUAN


def points_cap(*, subtotal: int, discount: int) -> int:
    """The most points an order of ``subtotal`` with a coupon ``discount`` may use:
    worth at most ``KPAY_POINTS_MAX_SHARE`` of the list price, and leaving at least 1 fen."""
    share = int(settings.KPAY_POINTS_MAX_SHARE * subtotal)
    value = max(0, min(share, subtotal - discount - 1))
    return value // fen_per_point()


def points_check(*, points, subtotal: int, discount: int) -> int:
    """The points asked for at checkout, validated against the cap (not the balance:
    :func:`points_take` checks that under the lots' locks)."""
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise PointsInvalid()
    if points > points_cap(subtotal=subtotal, discount=discount):
        raise PointsAboveCap()
    return points


def _book(*, kind, points: int, learner_id: int, order_id=None, at) -> None:
    if points:
        points_booked.send(
            sender=PointsLot,
            kind=kind,
            points=points,
            value=points_value(points),
            learner_id=learner_id,
            order_id=order_id,
            at=at,
        )


def _add(
    *, learner_id: int, points: int, source, kind, at, order_id=None, actor=None, reason=""
) -> PointsLot | None:
    """New points for the learner: they pay off the learner's debts first (oldest
    first), the rest is a new lot expiring after ``KPAY_POINTS_TTL``."""
    entries = []
    left = points
    for debt in points_debts_lock(learner_id=learner_id):
        if left <= 0:
            break
        pay = min(left, -debt.remaining)
        debt.remaining += pay
        debt.save(update_fields=["remaining"])
        entries.append(
            PointsEntry(
                learner_id=learner_id,
                lot=debt,
                kind=Kind.REPAID,
                points=pay,
                order_id=order_id,
                actor=actor,
                reason=reason[:255] or kind.label,
                created_at=at,
            )
        )
        left -= pay
    lot = PointsLot.objects.create(
        learner_id=learner_id,
        source=source,
        points=points,
        remaining=left,
        order_id=order_id,
        created_at=at,
        expires_at=at + settings.KPAY_POINTS_TTL,
    )
    if points - left:
        entries.append(
            PointsEntry(
                learner_id=learner_id,
                lot=lot,
                kind=Kind.REPAID,
                points=-(points - left),
                order_id=order_id,
                actor=actor,
                reason=reason[:255] or kind.label,
                created_at=at,
            )
        )
    entries.insert(
        0,
        PointsEntry(
            learner_id=learner_id,
            lot=lot,
            kind=kind,
            points=points,
            order_id=order_id,
            actor=actor,
            reason=reason[:255],
            created_at=at,
        ),
    )
    PointsEntry.objects.bulk_create(entries)
    return lot


def _take(*, learner_id: int, points: int, kind, at, order_id=None, actor=None, reason="", into_debt: bool):
    """Take ``points`` from the learner's lots, oldest first. What they do not have is
    refused (:class:`PointsInsufficient`) or, ``into_debt``, recorded as a debt lot.
    Returns the points taken from lots (the rest went into debt)."""
    entries, left = [], points
    for lot in points_lots_lock(learner_id=learner_id, at=at):
        if left <= 0:
            break
        take = min(left, lot.remaining)
        lot.remaining -= take
        lot.save(update_fields=["remaining"])
        entries.append(
            PointsEntry(
                learner_id=learner_id,
                lot=lot,
                kind=kind,
                points=-take,
                order_id=order_id,
                actor=actor,
                reason=reason[:255],
                created_at=at,
            )
        )
        left -= take
    if left and not into_debt:
        raise PointsInsufficient()
    if left:
        debt = PointsLot.objects.create(
            learner_id=learner_id,
            source=Source.DEBT,
            points=-left,
            remaining=-left,
            order_id=order_id,
            created_at=at,
            expires_at=at + settings.KPAY_POINTS_TTL * 100,
        )
        entries.append(
            PointsEntry(
                learner_id=learner_id,
                lot=debt,
                kind=kind,
                points=-left,
                order_id=order_id,
                actor=actor,
                reason=reason[:255],
                created_at=at,
            )
        )
    PointsEntry.objects.bulk_create(entries)
    return points - left


# -- earning and staff ----------------------------------------------------------------


def points_earn_for_order(*, order, at) -> PointsLot | None:
    """An order completed (its refund window ended): the learner earns points on what
    they paid, net of refunds. Once per order (the database allows one earned lot).
    The caller (settlement) holds the order's lock."""
    points = points_earned_for(order.total - order.refunded_amount)
    if points <= 0 or PointsLot.objects.filter(order_id=order.pk, source=Source.EARNED).exists():
        return None
    lot = _add(
        learner_id=order.learner_id,
        points=points,
        source=Source.EARNED,
        kind=Kind.EARNED,
        at=at,
        order_id=order.pk,
        reason=f"order {order.order_no} completed",
    )
    _book(kind=Kind.EARNED, points=points, learner_id=order.learner_id, order_id=order.pk, at=at)
    return lot


def _staff_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise PointsReasonRequired()
    return reason


def points_grant(*, actor, learner_id: int, points: int, reason: str) -> PointsLot:
    """Staff give a learner points, with a reason (the caller checked the permission)."""
    reason = _staff_reason(reason)
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise PointsInvalid()
    at = timezone.now()
    with transaction.atomic():
        lot = _add(
            learner_id=learner_id,
            points=points,
            source=Source.GRANTED,
            kind=Kind.GRANTED,
            at=at,
            actor=actor,
            reason=reason,
        )
        _book(kind=Kind.GRANTED, points=points, learner_id=learner_id, at=at)
    return lot


def points_deduct(*, actor, learner_id: int, points: int, reason: str) -> int:
    """Staff take points away, with a reason, oldest first; never more than the learner
    has (:class:`PointsInsufficient`)."""
    reason = _staff_reason(reason)
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise PointsInvalid()
    at = timezone.now()
    with transaction.atomic():
        _take(
            learner_id=learner_id,
            points=points,
            kind=Kind.DEDUCTED,
            at=at,
            actor=actor,
            reason=reason,
            into_debt=False,
        )
        _book(kind=Kind.DEDUCTED, points=-points, learner_id=learner_id, at=at)
    return points


# -- checkout and the order's life cycle --------------------------------------------------


def points_take_ctes(*, learner_id: int, points: int, at, reason: str) -> tuple[str, list]:
    """The CTEs spending ``points`` of the learner's for the order the CTE ``placed``
    inserts (PostgreSQL: :data:`~promotions.locks.POINTS_TAKE_CTES`); the statement's
    ``SELECT COALESCE(SUM(take), 0) FROM taken`` says how many were taken, and fewer
    than ``points`` is :class:`PointsInsufficient` (the caller's transaction rolls back)."""
    sql = POINTS_TAKE_CTES.format(lots=PointsLot._meta.db_table, entries=PointsEntry._meta.db_table)
    return sql, [learner_id, at, points, learner_id, Kind.SPENT.value, learner_id, reason[:255], at]


def points_take(*, order, points: int, at) -> None:
    """Reserve ``points`` of the learner's for ``order`` (just inserted, same
    transaction), oldest lots first, with the ORM (databases without data-modifying
    CTEs; see :func:`points_take_ctes`). Refuses with :class:`PointsInsufficient` (the
    caller's transaction then rolls back the order)."""
    left = points
    entries = []
    for lot in points_lots_lock(learner_id=order.learner_id, at=at):
        take = min(lot.remaining, left)
        if take <= 0:
            break
        lot.remaining -= take
        lot.save(update_fields=["remaining"])
        left -= take
        entries.append(
            PointsEntry(
                learner_id=order.learner_id,
                lot=lot,
                kind=Kind.SPENT,
                points=-take,
                order_id=order.pk,
                actor_id=order.learner_id,
                reason=f"order {order.order_no}"[:255],
                created_at=at,
            )
        )
    if left > 0:
        raise PointsInsufficient()
    PointsEntry.objects.bulk_create(entries)


def points_release(*, order, at, actor=None, reason: str) -> int:
    """The order closed unpaid: the points it reserved go back to the lots they came
    from (a lot that expired meanwhile is expired by the next sweep). Returns the points."""
    spent = list(
        PointsEntry.objects.filter(order_id=order.pk, kind=Kind.SPENT).values_list("lot_id", "points")
    )
    released = PointsEntry.objects.filter(order_id=order.pk, kind=Kind.RELEASED).exists()
    if not spent or released:
        return 0
    lots = points_lots_lock_by_id(lot_ids=[lot_id for lot_id, _ in spent])
    entries = []
    for lot_id, points in spent:
        lot = lots[lot_id]
        lot.remaining += -points
        lot.save(update_fields=["remaining"])
        entries.append(
            PointsEntry(
                learner_id=order.learner_id,
                lot=lot,
                kind=Kind.RELEASED,
                points=-points,
                order_id=order.pk,
                actor=actor,
                reason=reason[:255],
                created_at=at,
            )
        )
    PointsEntry.objects.bulk_create(entries)
    return sum(-points for _, points in spent)


def points_returned(*, points_used: int, refunded: int, paid: int) -> int:
    """Spent points given back once ``refunded`` of ``paid`` went back (cumulative)."""
    return discount_reversed(discount=points_used, refunded=refunded, paid=paid)


def points_record_refund(*, order, refunded_before: int, refunded: int, at, actor=None, reason: str) -> None:
    """Money was given back for a paid order (``refunded`` in total, ``refunded_before``
    before this refund): spent points come back in proportion (a new lot; the journal's
    refund posting moves their value back into the liability), and points the order
    earned follow what is left paid (clawed back, into a debt if the learner has
    spent them). The caller (orders) holds the order's lock."""
    paid = order.total
    if order.points_used:
        back = points_returned(points_used=order.points_used, refunded=refunded, paid=paid) - points_returned(
            points_used=order.points_used, refunded=refunded_before, paid=paid
        )
        if back > 0:
            _add(
                learner_id=order.learner_id,
                points=back,
                source=Source.RETURNED,
                kind=Kind.RETURNED,
                at=at,
                order_id=order.pk,
                actor=actor,
                reason=reason,
            )
    earned = (
        PointsLot.objects.filter(order_id=order.pk, source=Source.EARNED)
        .values_list("points", flat=True)
        .first()
    )
    if earned:
        clawed = -(
            PointsEntry.objects.filter(order_id=order.pk, kind=Kind.CLAWED_BACK).aggregate(s=Sum("points"))[
                "s"
            ]
            or 0
        )
        due = earned - min(earned, points_earned_for(paid - refunded)) - clawed
        if due > 0:
            _take(
                learner_id=order.learner_id,
                points=due,
                kind=Kind.CLAWED_BACK,
                at=at,
                order_id=order.pk,
                actor=actor,
                reason=reason,
                into_debt=True,
            )
            _book(kind=Kind.CLAWED_BACK, points=-due, learner_id=order.learner_id, order_id=order.pk, at=at)


# -- expiry ---------------------------------------------------------------------------------


def points_expire_due(*, now=None, batch: int = 1000) -> int:
    """Expire what is left of every lot past its ``expires_at``, oldest first, each
    learner in its own transaction. Idempotent: an expired lot has nothing left.
    Returns the points expired."""
    now = now or timezone.now()
    total = 0
    learners = (
        PointsLot.objects.filter(remaining__gt=0, expires_at__lte=now)
        .order_by()
        .values_list("learner_id", flat=True)
        .distinct()[:batch]
    )
    for learner_id in list(learners):
        with transaction.atomic():
            lots = points_lots_lock_expired(learner_id=learner_id, at=now)
            entries = []
            for lot in lots:
                entries.append(
                    PointsEntry(
                        learner_id=learner_id,
                        lot=lot,
                        kind=Kind.EXPIRED,
                        points=-lot.remaining,
                        reason="expired",
                        created_at=now,
                    )
                )
                lot.remaining = 0
            PointsLot.objects.bulk_update(lots, ["remaining"])
            PointsEntry.objects.bulk_create(entries)
            expired = -sum(entry.points for entry in entries)
            _book(kind=Kind.EXPIRED, points=-expired, learner_id=learner_id, at=now)
            total += expired
    return total
