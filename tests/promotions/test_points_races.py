"""Points under real concurrency on PostgreSQL: threads, each with its own connection."""

import pytest
from django.db import connection

from orders.models import Order
from orders.services import order_checkout
from promotions import exceptions, selectors
from promotions.models import PointsEntry, PointsLot
from promotions.points import points_grant
from tests.factories import CourseFactory
from tests.flows.test_concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_checkouts_never_spend_more_than_the_balance(learner, staff):
    points_grant(actor=staff("support", "granter"), learner_id=learner.pk, points=3000, reason="race")
    points_grant(actor=staff("support", "granter2"), learner_id=learner.pk, points=2000, reason="race")
    courses = [CourseFactory(price=10_000) for _ in range(10)]  # each may take up to 5000 points
    slugs = iter(course.slug for course in courses)
    import threading

    lock = threading.Lock()

    def checkout():
        with lock:
            slug = next(slugs)
        try:
            order_checkout(learner=learner, course_slug=slug, points=1500)
            return "ok"
        except exceptions.PromotionError as error:
            return error.code
        finally:
            connection.close()

    outcomes = race(10, checkout)

    assert sorted(outcomes) == ["ok"] * 3 + ["points_insufficient"] * 7
    assert Order.objects.count() == 3
    assert selectors.points_balance(learner_id=learner.pk) == 500
    assert PointsLot.objects.filter(remaining__lt=0).count() == 0
    spent = -sum(PointsEntry.objects.filter(kind="spent").values_list("points", flat=True))
    assert spent == 4500
