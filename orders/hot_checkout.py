"""Checkout in one round trip (PostgreSQL), for a course this process has sold before.

Replaces, on the paid-order path's first step, the two round trips of
:func:`orders.services.order_checkout` (read the course with whether the learner may
read it already or has it held for review, then INSERT the order) with one statement:
the order is priced and risk-assessed from the course as this process last read it
(:func:`known_course`: its id, slug, title, price, merchant and currency, all that
checkout takes from it), and its INSERT runs only if the course's read, a CTE of the
same statement, still finds it so, on sale, neither owned nor held by the learner.
Otherwise nothing is written (:class:`CourseChanged`) and checkout goes the ordinary
way, from reading the course (a course that changed, or a learner who may not buy it:
rare, and then two round trips more).

Why: the course's read was a round trip of its own and a second execute in Python,
about a third of checkout (``bench/paid_order.py``), while what checkout takes from a
course rarely changes. Correctness stays the database's: nothing is written from a
stale course (the INSERT's condition is checked in the statement's own snapshot), a
second open order for the same purchase is still refused by its unique constraint
(the caller's ``IntegrityError`` path), and the order is the same row the ORM would
write (``core.db.insert_sql``, generic over the model's fields). Other databases, and
orders with a coupon or points (their own one statement: ``services._order_insert``),
take the ordinary path.

Sent prepared, with server-side binding (``core.bound.bound_cursor``; bound but not
prepared when ``KPAY_PREPARED_STATEMENTS`` is off). Sent as text (Django's cursor, the
values quoted in), PostgreSQL parsed and planned it again on every checkout: planning
was 1.1–1.5 ms of its ~1.8 ms database wait, mostly the membership-access ``EXISTS``
(``courses.access``: six relations joined under an OR), execution 0.1–0.2 ms. Prepared,
the text is the same for every checkout of any course (only the values differ), so after
PostgreSQL's five custom plans it keeps the generic plan (its estimated cost is no worse)
and planning is gone: backend CPU per checkout fell from 2.9 to 0.65 ms in a paired run
(``/proc/<backend pid>/stat``, 200 checkouts each, load 7).
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from core.bound import bound_cursor
from core.db import insert_sql, one_statement_writes
from courses.models import Course

from . import selectors
from .models import Order

# What checkout last read of each course, by slug (bounded: forgotten when full).
_KNOWN: dict[str, object] = {}
_KNOWN_MAX = 1024


class CourseChanged(Exception):
    """The course is no longer as known, or the learner may not buy it (or the read has
    no cached SQL): nothing was written."""


@dataclass(frozen=True)
class CourseGuard:
    """The course read the order's INSERT is conditional on, and what it must find."""

    learner_id: int
    slug: str
    course_id: int
    expected: tuple  # (slug, title, price, merchant_id, currency), as the purchase took them


def remember(course, purchase) -> None:
    """Keep ``purchase`` (built from ``course``) for the next checkouts of that course."""
    if not one_statement_writes():
        return
    if len(_KNOWN) >= _KNOWN_MAX:
        _KNOWN.clear()
    _KNOWN[course.slug] = (purchase, _facts(course))


def known_course(*, learner, slug: str):
    """The purchase checkout built last time for ``slug`` and the guard that makes its
    INSERT conditional on it, or (None, None)."""
    known = _KNOWN.get(slug) if one_statement_writes() and _plain_save(Order) else None
    if known is None:
        return None, None
    purchase, facts = known
    return purchase, CourseGuard(learner_id=learner.pk, slug=slug, course_id=facts[0], expected=facts[1:])


@receiver(post_save, sender=Course, dispatch_uid="orders.hot_checkout.course_saved")
@receiver(post_delete, sender=Course, dispatch_uid="orders.hot_checkout.course_deleted")
def _forget(*, instance, **kwargs):
    """A course saved here is read again at its next checkout (elsewhere the guard
    notices the change: one miss per process)."""
    _KNOWN.pop(instance.slug, None)


def _facts(course) -> tuple:
    return (course.pk, course.slug, course.title, course.price, course.merchant_id, course.currency)


def _plain_save(model) -> bool:
    """Whether saving ``model`` runs no receiver (the INSERT below sends no signals)."""
    return not (pre_save.has_listeners(model) or post_save.has_listeners(model))


_COMPARED = ("slug", "title", "price", "merchant_id", "currency")


def order_insert_guarded(order: Order, *, guard: CourseGuard, at) -> None:
    """INSERT ``order`` in one statement with the course's read it depends on; raise
    :class:`CourseChanged` (nothing written) unless that read finds the course as
    ``guard`` expects it, on sale, neither owned nor held. ``IntegrityError`` as the
    ORM's INSERT would raise it."""
    read = selectors.course_for_checkout_statement(learner_id=guard.learner_id, slug=guard.slug, at=at)
    insert, insert_params = insert_sql([order])
    head, _, rest = insert.partition(" VALUES (")
    values, _, returning = rest.rpartition(") RETURNING ")
    if read is None or not values or "VALUES" in rest:
        raise CourseChanged()  # no cached SQL for the read: the ordinary path
    read_sql, read_params, names = read
    columns = [f"c{i}" for i in range(len(names))]
    column = {name: columns[i] for i, name in enumerate(names) if name}
    condition = (
        " AND ".join([f"{column['id']} = %s"] + [f"{column[name]} = %s" for name in _COMPARED])
        + f" AND NOT {column['owned']} AND NOT {column['held']}"
    )
    # Compiled SQL, generated column names and placeholders only:
    placed = f"{head} SELECT {values} FROM course WHERE {condition} RETURNING {returning}"  # noqa: S608
    sql = f"WITH course ({', '.join(columns)}) AS ({read_sql}),\nplaced AS ({placed})\nSELECT id FROM placed"
    params = [*read_params, *insert_params, guard.course_id, *guard.expected]
    with bound_cursor() as cursor:  # prepared: planned once per connection, see the module's note
        cursor.execute(sql, params)
        placed = cursor.fetchone()
    if placed is None:
        raise CourseChanged()
    order.pk = placed[0]
    order._state.adding = False
    order._state.db = connection.alias
