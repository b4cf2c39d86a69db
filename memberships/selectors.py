"""Reads for memberships: plans on sale, a learner's memberships, who may read a course
through a membership (the access source ``courses.access`` consults), and the members'
figures the finance dashboard shows."""

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.lookups import Exact
from django.utils import timezone

from core.prepared import filled, parameter_slots
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
    end (churned). One statement (:func:`_members_at_sql`), compiled once per number of
    instants; the same counts as :func:`_members_at_counts` (``tests/memberships``)."""
    if not instants:
        return []
    key = (len(instants), merchant_id is not None)
    if key not in _MEMBERS_AT:
        stand_ins = {f"at{i}": _STAND_IN_INSTANT + timedelta(days=i) for i in range(len(instants))}
        if merchant_id is not None:
            stand_ins["merchant_id"] = -1
        _MEMBERS_AT[key] = _members_at_sql(stand_ins)
    sql, stand_in_params, slots = _MEMBERS_AT[key]
    params = {f"at{i}": at for i, at in enumerate(instants)}
    if merchant_id is not None:
        params["merchant_id"] = merchant_id
    if slots is None:  # a stand-in folded or adapted in compiling (SQLite): compiled for these values
        sql, values, _slots = _members_at_sql(params)
    else:
        values = filled(stand_in_params, slots, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = dict(zip([column[0] for column in cursor.description], cursor.fetchone(), strict=True))
    return [
        {"active_at_start": row[f"n{i}"], "active_at_end": row[f"n{i + 1}"], "churned": row[f"lost{i}"]}
        for i in range(len(instants) - 1)
    ]


def _members_at_sql(params: dict) -> tuple[str, list, dict | None]:
    """The counts of :func:`members_at` in one pass over the memberships and their periods.

    Replaces :func:`_members_at_counts` (kept as the definition the tests compare with),
    whose ``EXISTS`` per instant and per churn column made PostgreSQL plan 19 subplans on
    every request (2-15 ms of planning at load 6-9 on the dashboard, for a statement that
    runs in under a millisecond): here each membership's periods are joined once and
    grouped (:func:`_member_flags`: one flag per instant), and the counts are taken over
    those flags. Returns the SQL, its parameters and where ``params``' values go in them
    (``core.prepared.parameter_slots``; None if one was folded into the text)."""
    flags = _member_flags(**params)
    inner, inner_params = flags.query.get_compiler(using=flags.db).as_sql()
    count = sum(1 for name in params if name.startswith("at"))
    qn = connection.ops.quote_name
    columns = [f"COUNT(*) FILTER (WHERE {qn(f'c{i}')}) AS {qn(f'n{i}')}" for i in range(count)] + [
        f"COUNT(*) FILTER (WHERE {qn(f'c{i}')} AND NOT {qn(f'c{i + 1}')}) AS {qn(f'lost{i}')}"
        for i in range(count - 1)
    ]
    sql = f"SELECT {', '.join(columns)} FROM ({inner}) AS flags"  # noqa: S608 (the ORM's SQL, names)
    return sql, list(inner_params), parameter_slots(inner_params, params)


def _member_flags(merchant_id: int | None = None, **instants: datetime) -> QuerySet:
    """One row per membership, ``c<i>``: whether it had access at ``instants["at<i>"]``
    (:func:`_covered_at`: a period covering the instant, not ended by then, or its grace
    period), its periods read once (the largest of a 0/1 flag over the joined periods: ``BOOL_OR``)."""
    memberships = Membership.objects.order_by()
    if merchant_id is not None:
        memberships = memberships.filter(plan__merchant_id=merchant_id)
    flags = {}
    for i in range(len(instants)):
        at = instants[f"at{i}"]
        period = Q(periods__starts_at__lte=at, periods__ends_at__gt=at) & (
            Q(periods__ended_at__isnull=True) | Q(periods__ended_at__gt=at)
        )
        # BOOL_OR over the periods, written so that SQLite (the embedded default) runs it too.
        any_period = Max(Case(When(period, then=Value(1)), default=Value(0)))
        covered = Q(Exact(any_period, 1)) | Q(ends_at__lte=at, grace_until__gt=at)
        flags[f"c{i}"] = Case(
            When(covered, then=Value(True)), default=Value(False), output_field=BooleanField()
        )
    return memberships.values("pk").annotate(**flags).values(*flags)


def _members_at_counts(merchant_id: int | None = None, **instants: datetime) -> QuerySet:
    """The counts of :func:`members_at` as a ``values()`` queryset of one row, with an
    ``EXISTS`` per instant: the definition :func:`_members_at_sql` is compared with."""
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


# Compiled once per (number of instants, one merchant or all): SQL, parameters, slots. The
# stand-in instants are days of 1900, which no membership period is near.
_MEMBERS_AT: dict[tuple[int, bool], tuple[str, list, dict | None]] = {}
_STAND_IN_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
