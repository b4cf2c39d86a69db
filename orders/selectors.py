from datetime import UTC, datetime

from django.conf import settings
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from core.bound import bound_cursor
from core.prepared import PreparedQuery
from courses.access import course_access_exists
from courses.models import Course
from courses.selectors import course_list_published

from .models import Order


def checkout_key_for(course_ids) -> str:
    return ",".join(str(pk) for pk in sorted(course_ids))


def course_for_checkout(*, learner, slug: str) -> Course | None:
    """The course on sale, whether the learner may read it already (``owned``: enrolled,
    or through a membership, :mod:`courses.access`) and whether
    they paid for it in an order held for risk review (``held``), in one query."""
    return _COURSE_FOR_CHECKOUT.first(learner_id=learner.pk, slug=slug, at=timezone.now())


def course_for_checkout_statement(*, learner_id: int, slug: str, at) -> tuple[str, list, list[str]] | None:
    """:func:`course_for_checkout`'s SQL, its parameters and its columns' names, to run
    inside checkout's one statement (``orders.hot_checkout``); None where it has no
    cached SQL."""
    return _COURSE_FOR_CHECKOUT.statement(learner_id=learner_id, slug=slug, at=at)


def _course_for_checkout(*, learner_id: int, slug: str, at) -> QuerySet[Course]:
    held = Order.objects.filter(
        Q(status=Order.Status.PAID) | Q(status=Order.Status.PARTIALLY_REFUNDED, fulfilled_at__isnull=True),
        learner_id=learner_id,
        checkout_key=Cast(OuterRef("pk"), output_field=CharField()),  # checkout_key_for([pk])
    )
    return (
        course_list_published()
        .filter(slug=slug)
        .annotate(
            owned=course_access_exists(learner_id=learner_id, course_ref=OuterRef("pk"), at=at),
            held=Exists(held),
        )
    )


# Checkout's first statement, compiled once (core.prepared): building this queryset
# (its EXISTS subqueries) took longer than running it. Bound and prepared on the server
# (core.bound.bound_cursor): PostgreSQL planned it again on every call, 1.3–1.5 ms against 0.1 ms to
# run it (the membership-access EXISTS, six relations under an OR, is most of that);
# prepared, it keeps the generic plan. Its SQL also travels in orders.hot_checkout's
# statement, prepared there as a whole.
_COURSE_FOR_CHECKOUT = PreparedQuery(
    _course_for_checkout,
    cursor=bound_cursor,
    learner_id=-7_301_001,
    slug="\x00slug",
    at=datetime(1901, 2, 3, 4, 5, 6, 789_012, UTC),
)


def delivered_order_of_same_courses(*, order: Order) -> Order | None:
    """Another delivered order of the learner for the same course(s) as ``order``, if
    any (orders placed before a held order blocked buying again): access follows it."""
    return (
        Order.objects.filter(
            learner_id=order.learner_id,
            checkout_key=order.checkout_key,
            status__in=Order.ACCESS_STATUSES,
            fulfilled_at__isnull=False,
        )
        .exclude(pk=order.pk)
        .order_by("-fulfilled_at", "-pk")
        .first()
    )


def open_order_for(*, learner, checkout_key: str) -> Order | None:
    return Order.objects.filter(
        learner=learner, checkout_key=checkout_key, status=Order.Status.PENDING_PAYMENT
    ).first()


def order_list_for_learner(*, learner) -> QuerySet[Order]:
    return Order.objects.filter(learner=learner).select_related("merchant").order_by("-created_at", "-pk")


def order_get_for_learner(*, learner, order_no: str) -> Order | None:
    """A learner's own order; someone else's order is indistinguishable from none."""
    return order_list_for_learner(learner=learner).filter(order_no=order_no).first()


def orders_due_for_settlement(*, now, limit: int = 10_000) -> list[int]:
    """Ids of delivered orders whose refund window has ended and that are not
    completed yet, oldest first (the partial index ``order_settlement_due_idx``)."""
    return list(
        Order.objects.filter(
            status__in=Order.SETTLEABLE_STATUSES,
            completed_at__isnull=True,
            fulfilled_at__isnull=False,
            paid_at__lte=now - settings.KPAY_REFUND_WINDOW,
        )
        .order_by("paid_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
