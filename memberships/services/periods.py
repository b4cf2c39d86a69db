"""Periods: granted when a membership order is delivered, ended when it is refunded.

Registered with ``orders.delivery`` as the ``membership`` line kind (``MembershipsConfig
.ready``): :func:`period_grant` and :func:`period_revoke` run inside the caller's
transaction, which holds the order's row lock (and its payment's); they lock the
membership after it (``memberships.locks``), so periods of one membership change one
at a time.

Stacking. A new period starts where the membership's last paid period ends if that is
still ahead (buying again before the end extends from the end), or during a grace
period (a renewal paid while access continued on grace starts where the paid time
ended: the grace days were the new period's first); otherwise at the moment of
delivery. Its end follows :mod:`memberships.calendar`.

Ending early. A refund ends a period at once (``ended_at``; status refunded). Periods
after it move up, so access stays continuous: each starts where the one before it now
ends, and its end is computed again by the same rule (same plan, same length).
"""

from orders.models import Order, OrderLine

from .. import calendar
from ..locks import membership_lock, membership_lock_or_create
from ..models import Membership, MembershipPeriod, Plan


def membership_line(order: Order) -> dict | None:
    """The order's membership line (its JSON), if it has one."""
    return next((line for line in order.lines if line.get("kind") == OrderLine.MEMBERSHIP), None)


def period_grant(*, order: Order, at) -> MembershipPeriod:
    """Deliver a paid membership order: its period, stacked after the membership's last
    one. Idempotent: the order's period is returned if it exists (one period per order)."""
    line = membership_line(order)
    if line is None:
        raise ValueError(f"order {order.order_no} has no membership line")
    plan = Plan.objects.get(pk=line["plan_id"])
    membership = membership_lock_or_create(learner_id=order.learner_id, plan_id=plan.pk)
    existing = MembershipPeriod.objects.filter(order_no=order.order_no).first()
    if existing is not None:
        return existing
    start = at
    if membership.ends_at is not None:
        in_grace = membership.grace_until is not None and membership.grace_until > at
        if membership.ends_at > at or in_grace:
            start = membership.ends_at
    last = membership.periods.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    period = MembershipPeriod.objects.create(
        membership=membership,
        sequence=last + 1,
        order_no=order.order_no,
        price=order.total,
        starts_at=start,
        ends_at=calendar.period_end(start=start, period=plan.period, period_days=plan.period_days),
    )
    membership.ends_at = period.ends_at
    membership.grace_until = None
    membership.save(update_fields=["ends_at", "grace_until"])
    return period


def period_revoke(*, order: Order, at) -> MembershipPeriod | None:
    """Take back a membership order refunded in full: its period ends at once (if a
    refund after the window has not ended it already). None if it was never delivered."""
    period = MembershipPeriod.objects.filter(order_no=order.order_no).select_related("membership").first()
    if period is None:
        return None
    membership = membership_lock(membership_id=period.membership_id)
    period.refresh_from_db()
    return _end(membership, period, at=at)


def period_end_early(*, period: MembershipPeriod, at) -> MembershipPeriod:
    """End ``period`` at ``at`` (a refund issued after the window: access ends when it is
    issued). The caller holds the period's order lock (and its payment's)."""
    membership = membership_lock(membership_id=period.membership_id)
    period.refresh_from_db()
    return _end(membership, period, at=at)


def _end(membership: Membership, period: MembershipPeriod, *, at) -> MembershipPeriod:
    changed = []
    if period.status != MembershipPeriod.Status.REFUNDED:
        period.status = MembershipPeriod.Status.REFUNDED
        changed.append("status")
    if period.ended_at is None:
        period.ended_at = at
        changed.append("ended_at")
    if not changed:
        return period
    period.save(update_fields=changed)
    _relay_after(membership, period)
    return period


def effective_end(period: MembershipPeriod):
    """When the period's access ends: its end, or earlier if it was ended early (never
    before it starts: a period refunded before it began gave no access)."""
    if period.ended_at is None:
        return period.ends_at
    return max(period.starts_at, min(period.ends_at, period.ended_at))


def _relay_after(membership: Membership, ended: MembershipPeriod) -> None:
    """Move the active periods after ``ended`` up to where it now ends, and bring the
    membership's ``ends_at`` up to date. Access ends at once: no grace either."""
    plan = membership.plan
    cursor = effective_end(ended)
    later = membership.periods.filter(
        sequence__gt=ended.sequence, status=MembershipPeriod.Status.ACTIVE, ended_at__isnull=True
    ).order_by("sequence")
    for period in later:
        if period.starts_at > cursor:
            period.starts_at = cursor
            period.ends_at = calendar.period_end(
                start=cursor, period=plan.period, period_days=plan.period_days
            )
            period.save(update_fields=["starts_at", "ends_at"])
        cursor = period.ends_at
    membership.ends_at = membership_ends_at(membership)
    membership.grace_until = None
    membership.save(update_fields=["ends_at", "grace_until"])


def membership_ends_at(membership: Membership):
    """The end of the last paid period still running; with none, when access last ended."""
    periods = list(membership.periods.all())
    active = [p.ends_at for p in periods if p.status == MembershipPeriod.Status.ACTIVE and p.ended_at is None]
    if active:
        return max(active)
    ends = [effective_end(p) for p in periods]
    return max(ends) if ends else None
