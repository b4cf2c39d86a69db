"""Row locks of memberships, in the project's lock order (README, "Lock order"):
agreement → renewal, both before any order or payment row is touched; the membership row
(updated, never read for update here) after them.

A renewal places its order and inserts its payment while holding these locks (inserts
take no row lock that another path waits on), and never holds them while a payment or
order is locked: the result of a charge is applied by payments under its own locks, and
read back here afterwards.
"""

from .models import Agreement, Membership, Renewal


def agreement_lock(*, pk: int) -> Agreement:
    return (
        Agreement.objects.select_related("membership", "membership__plan")
        .select_for_update(of=("self",))
        .get(pk=pk)
    )


def agreement_lock_by_number(*, agreement_no: str, gateway: str) -> Agreement | None:
    """The agreement a gateway notification is about, locked (None if it is not ours)."""
    return (
        Agreement.objects.select_related("membership", "membership__plan")
        .select_for_update(of=("self",))
        .filter(agreement_no=agreement_no, gateway=gateway)
        .first()
    )


def agreement_lock_live(*, membership_id: int) -> Agreement | None:
    """A membership's agreement in force or being signed (the database allows one), locked."""
    return (
        Agreement.objects.select_related("membership", "membership__plan")
        .select_for_update(of=("self",))
        .filter(membership_id=membership_id, status__in=Agreement.LIVE_STATUSES)
        .first()
    )


def renewal_lock(*, pk: int) -> Renewal:
    """Lock a renewal. Callers that need its agreement lock the agreement first."""
    return (
        Renewal.objects.select_related("membership", "membership__plan")
        .select_for_update(of=("self",))
        .get(pk=pk)
    )


def renewal_lock_open(*, membership_id: int) -> Renewal | None:
    """A membership's open renewal (the database allows one), locked."""
    return (
        Renewal.objects.select_for_update()
        .filter(membership_id=membership_id, status__in=Renewal.OPEN_STATUSES)
        .first()
    )


def membership_lock_or_create(*, learner_id: int, plan_id: int) -> Membership:
    """Lock the learner's membership of the plan, creating it first if there is none.

    Without one: ``INSERT … ON CONFLICT DO NOTHING`` then ``SELECT … FOR UPDATE``, so a
    concurrent creation waits for the other transaction and then finds its row.
    """
    locked = Membership.objects.select_for_update().filter(learner_id=learner_id, plan_id=plan_id).first()
    if locked is not None:
        return locked
    Membership.objects.bulk_create(
        [Membership(learner_id=learner_id, plan_id=plan_id)], ignore_conflicts=True
    )
    return Membership.objects.select_for_update().get(learner_id=learner_id, plan_id=plan_id)


def membership_lock(*, membership_id: int) -> Membership:
    return Membership.objects.select_for_update().get(pk=membership_id)
