"""What delivering an order means, by the kind of its lines: a registry.

``orders`` sells courses itself; other apps sell other kinds through the same checkout
(:func:`orders.services.order_place`) and say here what granting and taking back one of
their lines means, from their ``AppConfig.ready``, so ``orders`` never imports them::

    register_line_kind("membership", grant=period_grant, revoke=period_revoke)

Both callables take keyword arguments ``order`` and ``at``. ``grant`` runs when a paid
order is delivered (``order_record_payment``, or ``order_deliver`` after a risk review),
``revoke`` when a delivered order is refunded in full; the caller holds the order's row
lock (with its payment's, when paid through a gateway), so a kind's own locks come after
it in the project's lock order. Both must be idempotent: a repeated call changes nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass

from courses.services import enrollment_grant, enrollment_revoke

from . import selectors
from .models import Order, OrderLine


@dataclass(frozen=True)
class LineKind:
    kind: str
    grant: Callable[..., object]
    revoke: Callable[..., object]


_KINDS: dict[str, LineKind] = {}


def register_line_kind(kind: str, *, grant: Callable[..., object], revoke: Callable[..., object]) -> None:
    """Say how lines of ``kind`` are delivered and taken back (again: replaced)."""
    _KINDS[kind] = LineKind(kind=kind, grant=grant, revoke=revoke)


def line_kind(kind: str) -> LineKind:
    try:
        return _KINDS[kind]
    except KeyError:
        raise LookupError(f"no delivery is registered for order lines of kind {kind!r}") from None


def line_kinds() -> list[str]:
    return list(_KINDS)


def _kinds_of(order: Order) -> list[str]:
    kinds: list[str] = []
    for line in order.lines:
        kind = line.get("kind", OrderLine.COURSE)
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def order_lines_grant(*, order: Order, at) -> None:
    """Deliver every line of a locked, paid order (each kind once)."""
    for kind in _kinds_of(order):
        line_kind(kind).grant(order=order, at=at)


def order_lines_revoke(*, order: Order, at) -> None:
    """Take back what a locked order, refunded in full, delivered (each kind once)."""
    for kind in _kinds_of(order):
        line_kind(kind).revoke(order=order, at=at)


# -- courses: the first kind ---------------------------------------------------------
def _course_grant(*, order: Order, at) -> None:
    enrollment_grant(learner_id=order.learner_id, course_ids=order.course_ids, order_no=order.order_no, at=at)


def _course_revoke(*, order: Order, at) -> None:
    """A fully refunded order's access goes, unless another delivered order of the
    learner for the same course still pays for it: then the enrollment is tagged with
    that order (and a later refund of *that* order is what takes access away)."""
    other = selectors.delivered_order_of_same_courses(order=order)
    if other is not None:
        enrollment_grant(
            learner_id=order.learner_id,
            course_ids=other.course_ids,
            order_no=other.order_no,
            at=other.fulfilled_at,
        )
        return
    enrollment_revoke(
        learner_id=order.learner_id, course_ids=order.course_ids, order_no=order.order_no, at=at
    )


register_line_kind(OrderLine.COURSE, grant=_course_grant, revoke=_course_revoke)
