"""Reads for memberships: plans on sale, a learner's memberships, who may read a course
through a membership (the access source ``courses.access`` consults), and the members'
figures the finance dashboard shows."""

from datetime import UTC, datetime, timedelta

from django.db.models import Case, CharField, Count, Exists, OuterRef, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from core.prepared_values import PreparedValues
from courses.models import Course, Merchant
from orders.models import OrderLine

from .models import Membership, MembershipPeriod, Plan

# Courses a membership opens: not drafts (their content is not ready), archived ones too
# (as an enrollment keeps them).
READABLE_COURSE_STATUSES = (Course.Status.PUBLISHED, Course.Status.ARCHIVED)


# -- plans ------------------------------------------------------------------------------
def plans_on_sale(*, merchant: Merchant | None = None) -> QuerySet[Plan]:
    plans = Plan.objects.filter(is_active=True, merchant__is_active=True)
    if merchant is not None:
        plans = plans.filter(merchant=merchant)
    return (
        plans.select_related("merchant")
        .prefetch_related(Prefetch("courses", queryset=Course.objects.filter(status=Course.Status.PUBLISHED)))
        .order_by("merchant__name", "price", "pk")
    )


def plan_get_on_sale(*, slug: str) -> Plan | None:
    return plans_on_sale().filter(slug=slug).first()


def merchant_with_plans(*, slug: str) -> Merchant | None:
    """An active merchant with at least one plan on sale."""
    return (
        Merchant.objects.filter(slug=slug, is_active=True)
        .filter(Exists(Plan.objects.filter(merchant=OuterRef("pk"), is_active=True)))
        .first()
    )


def merchants_with_plans() -> QuerySet[Merchant]:
    return (
        Merchant.objects.filter(is_active=True)
        .filter(Exists(Plan.objects.filter(merchant=OuterRef("pk"), is_active=True)))
        .order_by("name")
    )


# -- access -----------------------------------------------------------------------------
def period_covering(at, *, membership_ref="pk") -> QuerySet[MembershipPeriod]:
    """Paid periods (not ended) of the outer membership that cover the instant ``at``."""
    return MembershipPeriod.objects.filter(
        membership=OuterRef(membership_ref),
        status=MembershipPeriod.Status.ACTIVE,
        ended_at__isnull=True,
        starts_at__lte=at,
        ends_at__gt=at,
    )


def membership_access_exists(*, learner_id, course_ref, at) -> Exists:
    """The access source: the learner has a membership that covers ``at`` (a paid period,
    or its grace period while a renewal is being retried) of a plan that opens the course
    ``course_ref``: every course of the plan's merchant (future ones too), or the course
    is in the plan's chosen set."""
    opens = Q(
        plan__all_courses=True,
        plan__merchant__courses__pk=course_ref,
        plan__merchant__courses__status__in=READABLE_COURSE_STATUSES,
    ) | Q(
        plan__all_courses=False,
        plan__courses__pk=course_ref,
        plan__courses__status__in=READABLE_COURSE_STATUSES,
    )
    return Exists(
        Membership.objects.filter(learner_id=learner_id)
        .filter(Q(grace_until__gt=at) | Q(Exists(period_covering(at))))
        .filter(opens)
    )


# -- a learner's memberships -----------------------------------------------------------
ACTIVE, GRACE, UPCOMING, ENDED = "active", "grace", "upcoming", "ended"


def memberships_for_learner(*, learner, at=None) -> QuerySet[Membership]:
    """The learner's memberships, each with ``state`` (active: a paid period covers now;
    grace: a renewal is being retried and access continues; upcoming: paid periods start
    later; ended) and its periods in order. Memberships with no period yet are left out."""
    at = at or timezone.now()
    upcoming = MembershipPeriod.objects.filter(
        membership=OuterRef("pk"),
        status=MembershipPeriod.Status.ACTIVE,
        ended_at__isnull=True,
        starts_at__gt=at,
    )
    return (
        Membership.objects.filter(learner=learner)
        .filter(Exists(MembershipPeriod.objects.filter(membership=OuterRef("pk"))))
        .select_related("plan", "plan__merchant")
        .prefetch_related(Prefetch("periods", queryset=MembershipPeriod.objects.order_by("sequence")))
        .annotate(
            state=Case(
                When(Exists(period_covering(at)), then=Value(ACTIVE)),
                When(grace_until__gt=at, then=Value(GRACE)),
                When(Exists(upcoming), then=Value(UPCOMING)),
                default=Value(ENDED),
                output_field=CharField(),
            )
        )
        .order_by("-ends_at", "-pk")
    )


def membership_of(*, learner, plan: Plan) -> Membership | None:
    if not learner.is_authenticated:
        return None
    return Membership.objects.filter(learner=learner, plan=plan).first()


def memberships_by_plan(*, learner, plans) -> dict[int, Membership]:
    if not learner.is_authenticated:
        return {}
    return {m.plan_id: m for m in Membership.objects.filter(learner=learner, plan__in=list(plans))}


# -- the finance dashboard -------------------------------------------------------------
def membership_orders_q(prefix: str = "") -> Q:
    """Orders (``prefix`` to reach them, e.g. ``"order__"``) whose line is a membership period."""
    return Q(**{f"{prefix}lines__0__kind": OrderLine.MEMBERSHIP})


def _covered_at(at: datetime) -> Q:
    """The outer membership had access at ``at``: a period covering it that had not been
    ended by then, or its grace period after its last paid one."""
    periods = MembershipPeriod.objects.filter(
        membership=OuterRef("pk"), starts_at__lte=at, ends_at__gt=at
    ).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
    return Q(Exists(periods)) | Q(ends_at__lte=at, grace_until__gt=at)


def members_at(*, instants: list[datetime], merchant_id: int | None = None) -> list[dict]:
    """For each ``[start, end)`` pair of ``instants`` (consecutive): memberships with
    access at the start, at the end, and those that had it at the start but not at the
    end (churned). One query, compiled once per number of instants (:data:`_MEMBERS_AT`)."""
    if not instants:
        return []
    key = (len(instants), merchant_id is not None)
    if key not in _MEMBERS_AT:
        stand_ins = {f"at{i}": _STAND_IN_INSTANT + timedelta(days=i) for i in range(len(instants))}
        if merchant_id is not None:
            stand_ins["merchant_id"] = -1
        _MEMBERS_AT[key] = PreparedValues(_members_at_counts, **stand_ins)
    params = {f"at{i}": at for i, at in enumerate(instants)}
    if merchant_id is not None:
        params["merchant_id"] = merchant_id
    (row,) = _MEMBERS_AT[key].rows(**params)
    return [
        {"active_at_start": row[f"n{i}"], "active_at_end": row[f"n{i + 1}"], "churned": row[f"lost{i}"]}
        for i in range(len(instants) - 1)
    ]


def _members_at_counts(merchant_id: int | None = None, **instants: datetime) -> QuerySet:
    """The counts of :func:`members_at` as a ``values()`` queryset of one row (no GROUP
    BY: the constant is left out of it), for :class:`core.prepared_values.PreparedValues`."""
    memberships = Membership.objects.order_by()
    if merchant_id is not None:
        memberships = memberships.filter(plan__merchant_id=merchant_id)
    count = len(instants)
    flags = {
        f"at{i}": Case(When(_covered_at(instants[f"at{i}"]), then=Value(1)), default=Value(0))
        for i in range(count)
    }
    counts = {f"n{i}": Count("pk", filter=Q(**{f"at{i}": 1})) for i in range(count)}
    counts |= {f"lost{i}": Count("pk", filter=Q(**{f"at{i}": 1, f"at{i + 1}": 0})) for i in range(count - 1)}
    return memberships.alias(**flags).values(_row=Value(1)).annotate(**counts).values(*counts)


# Compiled once per (number of instants, one merchant or all); the stand-in instants are
# days of 1900, which no membership period is near.
_MEMBERS_AT: dict[tuple[int, bool], PreparedValues] = {}
_STAND_IN_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
