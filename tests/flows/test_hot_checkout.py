"""Checkout in one statement for a course this process sold before (``orders.hot_checkout``,
PostgreSQL): the order's INSERT runs only if the course's read in the same statement
still finds it as known; otherwise nothing is written and checkout goes the ordinary way.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from courses.models import Course, Enrollment
from orders.exceptions import CheckoutRefused, CourseAlreadyOwned, CourseNotAvailable
from orders.models import Order
from orders.services import order_checkout
from riskcontrol.models import Rule
from riskcontrol.services import rule_save
from tests.concurrency import race
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def known(course):
    """The course, sold once by this process (so it is known)."""
    order_checkout(learner=UserFactory(), course_slug=course.slug)
    return course


def _checkout(learner, course):
    with CaptureQueriesContext(connection) as sent:
        result = order_checkout(learner=learner, course_slug=course.slug)
    return result, [q["sql"] for q in sent.captured_queries]


def test_a_known_course_is_checked_out_in_one_statement_as_the_ordinary_path_would(learner, known):
    first = Order.objects.get()  # the ordinary path's order, for comparison
    result, statements = _checkout(learner, known)

    assert len(statements) == 1, statements
    assert "INSERT INTO" in statements[0] and "courses_course" in statements[0]
    order = Order.objects.get(pk=result.order.pk)
    assert result.created and order.order_no == result.order.order_no
    assert order.learner_id == learner.pk and order.status == Order.Status.PENDING_PAYMENT
    assert (order.subtotal, order.total, order.currency, order.merchant_id) == (
        9900,
        9900,
        "CNY",
        known.merchant_id,
    )
    assert order.lines == first.lines and order.checkout_key == first.checkout_key
    assert order.risk_assessment["decision"] == "allow"
    assert order.risk_assessment["inputs"]["learner_id"] == learner.pk
    assert order.risk_assessment["inputs"]["course_ids"] == [known.pk]


def test_a_price_changed_behind_the_process_back_is_charged_as_it_is_now(learner, known):
    Course.objects.filter(pk=known.pk).update(price=12_000)  # no signal: the process still knows 9900

    result, statements = _checkout(learner, known)

    assert result.order.total == 12_000 and result.order.lines[0]["unit_price"] == 12_000
    assert Order.objects.get(pk=result.order.pk).total == 12_000
    assert len(statements) == 3  # the guarded INSERT wrote nothing; the course's read; the INSERT
    # …and the next checkout knows the new price: one statement again.
    assert order_checkout(learner=UserFactory(), course_slug=known.slug).order.total == 12_000
    assert len(_checkout(UserFactory(), known)[1]) == 1


def test_a_course_withdrawn_or_owned_meanwhile_writes_nothing(learner, known):
    Enrollment.objects.create(learner=learner, course=known, granted_at=timezone.now())
    with pytest.raises(CourseAlreadyOwned):
        order_checkout(learner=learner, course_slug=known.slug)
    Course.objects.filter(pk=known.pk).update(status=Course.Status.DRAFT)
    with pytest.raises(CourseNotAvailable):
        order_checkout(learner=UserFactory(), course_slug=known.slug)

    assert Order.objects.count() == 1  # the fixture's


def test_the_open_order_is_handed_back_by_its_constraint(learner, known):
    placed = order_checkout(learner=learner, course_slug=known.slug)
    again = order_checkout(learner=learner, course_slug=known.slug)

    assert placed.created and not again.created
    assert again.order.pk == placed.order.pk
    assert Order.objects.filter(learner=learner).count() == 1


def test_concurrent_checkouts_of_a_known_course_make_one_order(learner, known):
    results = race(10, lambda: order_checkout(learner=learner, course_slug=known.slug))

    assert len({r.order.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert Order.objects.filter(learner=learner).count() == 1


def test_a_block_is_decided_on_the_course_as_it_is(learner, known, admin_user):
    rule_save(
        rule=Rule(name="dear", kind="amount_above", params={"amount": 100}, action="block"), actor=admin_user
    )
    with pytest.raises(CheckoutRefused):
        order_checkout(learner=learner, course_slug=known.slug)
    Enrollment.objects.create(learner=learner, course=known, granted_at=timezone.now())
    with pytest.raises(CourseAlreadyOwned):  # as without the hot path: owning is said first
        order_checkout(learner=learner, course_slug=known.slug)
    assert Order.objects.filter(learner=learner).count() == 0
