"""``ledger_check`` invariants of memberships (registered in ``MembershipsConfig.ready``
with :func:`payments.ledger.checks.register`): every period is what a paid order bought,
every delivered membership order gave its period, and periods of one membership never
overlap. The journal side of a membership order (payment, refunds, settlement) is an
order's like any other, checked by the payments and settlement checks.
"""

from collections.abc import Iterator

from django.db.models import BigIntegerField, Exists, F, Max, OuterRef, Q, Subquery
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast

from orders.models import Order

from .models import Membership, MembershipPeriod
from .selectors import membership_orders_q

_ACTIVE = Q(status=MembershipPeriod.Status.ACTIVE, ended_at__isnull=True)


def _line_plan_id():
    return Cast(KeyTextTransform("plan_id", KeyTransform("0", "lines")), BigIntegerField())


def membership_periods_backed_by_orders() -> Iterator[str]:
    """Each period's order is a delivered membership order of the same learner and plan
    that paid the period's price; a period still running is not of an order refunded in
    full, and an ended one says when it ended."""
    delivered = (
        Order.objects.filter(membership_orders_q(), order_no=OuterRef("order_no"), fulfilled_at__isnull=False)
        .annotate(plan_of_line=_line_plan_id())
        .filter(
            learner_id=OuterRef("membership__learner_id"),
            plan_of_line=OuterRef("membership__plan_id"),
            total=OuterRef("price"),
        )
    )
    for row in MembershipPeriod.objects.exclude(Exists(delivered)).values("pk", "order_no")[:100]:
        yield f"period {row['pk']}: order {row['order_no']} did not buy it (learner, plan, price, delivery)"
    refunded = Order.objects.filter(order_no=OuterRef("order_no"), status=Order.Status.REFUNDED)
    for row in MembershipPeriod.objects.filter(_ACTIVE, Exists(refunded)).values("pk", "order_no")[:100]:
        yield f"period {row['pk']} still runs, but order {row['order_no']} was refunded in full"
    inconsistent = MembershipPeriod.objects.filter(
        Q(status=MembershipPeriod.Status.REFUNDED, ended_at__isnull=True)
        | Q(status=MembershipPeriod.Status.ACTIVE, ended_at__isnull=False)
    )
    for row in inconsistent.values("pk", "status")[:100]:
        yield f"period {row['pk']} is {row['status']} but its end says otherwise"


def membership_orders_have_periods() -> Iterator[str]:
    """Every delivered membership order gave its learner one period."""
    period = MembershipPeriod.objects.filter(order_no=OuterRef("order_no"))
    missing = Order.objects.filter(membership_orders_q(), fulfilled_at__isnull=False).exclude(Exists(period))
    for row in missing.values("order_no", "status")[:100]:
        yield f"order {row['order_no']} ({row['status']}) was delivered but gave no membership period"


def membership_periods_do_not_overlap() -> Iterator[str]:
    """Running periods of one membership follow each other, and the membership's end is
    the end of its last running period."""
    earlier = MembershipPeriod.objects.filter(
        _ACTIVE,
        membership=OuterRef("membership"),
        sequence__lt=OuterRef("sequence"),
        ends_at__gt=OuterRef("starts_at"),
    )
    overlapping = MembershipPeriod.objects.filter(_ACTIVE, Exists(earlier))
    for row in overlapping.values("pk", "membership_id", "sequence")[:100]:
        yield f"membership {row['membership_id']}: period #{row['sequence']} overlaps an earlier one"
    last_end = Subquery(
        MembershipPeriod.objects.filter(_ACTIVE, membership=OuterRef("pk"))
        .order_by()
        .values("membership")
        .annotate(last=Max("ends_at"))
        .values("last")
    )
    wrong = (
        Membership.objects.annotate(last_end=last_end)
        .filter(last_end__isnull=False)
        .exclude(ends_at=F("last_end"))
        .values("pk", "ends_at", "last_end")
    )
    for row in wrong[:100]:
        yield f"membership {row['pk']} ends {row['ends_at']}, its last running period {row['last_end']}"


CHECKS = (
    membership_periods_backed_by_orders,
    membership_orders_have_periods,
    membership_periods_do_not_overlap,
)
