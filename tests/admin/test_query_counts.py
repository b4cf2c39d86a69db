"""Changelists cost the same number of queries whatever the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from courses.models import Course
from orders.models import Order
from orders.services import order_checkout
from payments.models import Payment
from tests.factories import CourseFactory, UserFactory

from .pages import admin_url

pytestmark = pytest.mark.django_db


def queries_for(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def add_orders(course, count):
    for _ in range(count):
        order_checkout(learner=UserFactory(), course_slug=course.slug)


@pytest.fixture(params=["superuser", "merchant_user"])
def viewer(request, client):
    client.force_login(request.getfixturevalue(request.param))
    return client


def test_order_changelist_is_constant_in_queries(viewer, own_course, django_assert_max_num_queries):
    add_orders(own_course, 1)
    one = queries_for(viewer, admin_url(Order))
    add_orders(own_course, 9)
    assert Order.objects.count() == 10
    with django_assert_max_num_queries(one):
        response = viewer.get(admin_url(Order))
    assert len(response.context["cl"].result_list) == 10


def test_course_changelist_is_constant_in_queries(viewer, own_merchant, django_assert_max_num_queries):
    CourseFactory(merchant=own_merchant)
    one = queries_for(viewer, admin_url(Course))
    CourseFactory.create_batch(9, merchant=own_merchant)
    with django_assert_max_num_queries(one):
        response = viewer.get(admin_url(Course))
    assert len(response.context["cl"].result_list) == 10


def test_payment_changelist_is_constant_in_queries(
    client, superuser, own_course, pay, django_assert_max_num_queries
):
    client.force_login(superuser)
    pay(UserFactory(), own_course)
    one = queries_for(client, admin_url(Payment))
    for _ in range(4):
        pay(UserFactory(), own_course)
    with django_assert_max_num_queries(one):
        response = client.get(admin_url(Payment))
    assert len(response.context["cl"].result_list) == 5
