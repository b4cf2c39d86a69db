"""List pages take the same number of queries whatever the number of rows."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from courses.services import enrollment_grant
from orders.services import order_checkout
from tests.factories import CourseFactory, LessonFactory


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_catalog_queries_do_not_grow_with_courses(site, django_assert_max_num_queries):
    CourseFactory()
    with_one = queries_for(site, reverse("courses:catalog"))
    CourseFactory.create_batch(9)

    with django_assert_max_num_queries(with_one):
        response = site.get(reverse("courses:catalog"))

    assert len(response.context["courses"]) == 10
    assert with_one <= 5  # session, user, count, page, the categories with courses on sale


def test_my_orders_queries_do_not_grow_with_orders(site, learner, django_assert_max_num_queries):
    order_checkout(learner=learner, course_slug=CourseFactory().slug)
    with_one = queries_for(site, reverse("orders:my-orders"))
    for course in CourseFactory.create_batch(9):
        order_checkout(learner=learner, course_slug=course.slug)

    with django_assert_max_num_queries(with_one):
        response = site.get(reverse("orders:my-orders"))

    assert len(response.context["orders"]) == 10
    assert with_one <= 4


def test_my_courses_queries_do_not_grow_with_courses(site, learner, django_assert_max_num_queries):
    def grant(courses):
        for course in courses:
            LessonFactory.create_batch(2, course=course)
        enrollment_grant(
            learner_id=learner.pk, course_ids=[c.pk for c in courses], order_no="", at=timezone.now()
        )

    grant([CourseFactory()])
    with_one = queries_for(site, reverse("courses:my-courses"))
    grant(CourseFactory.create_batch(9))

    with django_assert_max_num_queries(with_one):
        response = site.get(reverse("courses:my-courses"))

    assert len(response.context["entries"]) == 10
