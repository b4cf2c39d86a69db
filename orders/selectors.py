from django.db.models import CharField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Cast

from courses.models import Course
from courses.selectors import active_enrollment_exists, course_list_published

from .models import Order


def checkout_key_for(course_ids) -> str:
    return ",".join(str(pk) for pk in sorted(course_ids))


def course_for_checkout(*, learner, slug: str) -> Course | None:
    """The course with what checkout needs to know, in one query: whether the learner
    owns it already, and their open order for it (id and deadline) if any."""
    open_orders = Order.objects.filter(
        learner=learner,
        status=Order.Status.PENDING_PAYMENT,
        checkout_key=Cast(OuterRef("pk"), output_field=CharField()),
    )
    return (
        course_list_published()
        .filter(slug=slug)
        .annotate(
            owned=active_enrollment_exists(learner_id=learner.pk, course_ref=OuterRef("pk")),
            open_order_id=Subquery(open_orders.values("pk")[:1]),
            open_order_expires_at=Subquery(open_orders.values("expires_at")[:1]),
        )
        .first()
    )


def order_list_for_learner(*, learner) -> QuerySet[Order]:
    return Order.objects.filter(learner=learner).select_related("merchant").order_by("-created_at", "-pk")


def order_get_for_learner(*, learner, order_no: str) -> Order | None:
    """A learner's own order; someone else's order is indistinguishable from none."""
    return order_list_for_learner(learner=learner).filter(order_no=order_no).first()


def order_get_for_update(*, pk: int) -> Order:
    return Order.objects.select_for_update().get(pk=pk)
