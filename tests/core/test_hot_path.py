"""The paid-order path's helpers: writes sent as one statement, SQL compiled once per
shape, cached querysets, and the lean request cycle of gateway notifications."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import db
from core.prepared import PreparedQuery
from courses.models import Enrollment
from orders.models import Order, OrderStatusChange
from tests.factories import CourseFactory, UserFactory


def _status_change(order, to_status, at):
    return OrderStatusChange(
        order=order, from_status=order.status, to_status=to_status, transition="t", reason="r", created_at=at
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_writes_in_one_statement_go_as_one_statement_and_a_read_sees_them(learner, course):
    at = timezone.now()
    with CaptureQueriesContext(connection) as sent, transaction.atomic(), db.writes_in_one_statement():
        db.db_insert(
            [Enrollment(learner=learner, course=course, order_no="K1", status="active", granted_at=at)],
            update_conflicts=True,
            unique_fields=["learner", "course"],
            update_fields=["order_no", "status", "granted_at"],
        )
        learner.first_name = "Batched"
        db.db_update(learner, ["first_name"])
        assert all(q["sql"].startswith("SAVEPOINT") for q in sent.captured_queries)  # no write sent yet
        seen = Enrollment.objects.filter(learner=learner, course=course).count()  # sent first, then this
    assert seen == 1
    writes = [q["sql"] for q in sent.captured_queries if q["sql"].startswith("WITH")]
    assert len(writes) == 1 and "INSERT" in writes[0] and "UPDATE" in writes[0]
    learner.refresh_from_db()
    assert learner.first_name == "Batched"


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_refused_write_in_a_batch_raises_when_sent_and_rolls_back(learner, course):
    from django.db import IntegrityError

    at = timezone.now()
    enrollment = Enrollment(learner=learner, course=course, order_no="K1", status="active", granted_at=at)
    with pytest.raises(IntegrityError), transaction.atomic(), db.writes_in_one_statement():
        db.db_insert([enrollment])
        db.db_insert(
            [Enrollment(learner=learner, course=course, order_no="K2", status="active", granted_at=at)]
        )
    assert not Enrollment.objects.filter(learner=learner).exists()


@pytest.mark.django_db
def test_outside_a_batch_each_write_goes_at_once(learner, course):
    at = timezone.now()
    with CaptureQueriesContext(connection) as sent:
        rows = db.db_insert(
            [Enrollment(learner=learner, course=course, order_no="K1", status="active", granted_at=at)]
        )
    assert len(sent) == 1 and rows[0].pk is not None


@pytest.mark.django_db
def test_sql_compiled_once_per_shape_is_what_the_compiler_sends(learner):
    order = Order.objects.create(
        order_no="KSHAPE",
        learner=learner,
        merchant_id=CourseFactory().merchant_id,
        checkout_key="x",
        subtotal=100,
        total=100,
        currency="CNY",
        expires_at=timezone.now(),
    )
    at = timezone.now()
    db._SHAPES.clear()
    first = db.insert_sql([_status_change(order, "paid", at), _status_change(order, "fulfilled", at)])
    assert db._SHAPES, "the shape was kept"
    again = db.insert_sql([_status_change(order, "paid", at), _status_change(order, "fulfilled", at)])
    assert again[0] == first[0] and db._same(first[1], again[1])
    update = db.update_sql(order, ["total"])
    assert db.update_sql(order, ["total"]) == update


@pytest.mark.django_db
def test_a_prepared_query_answers_as_its_queryset_with_each_calls_values():
    users = UserFactory.create_batch(3)
    query = PreparedQuery(
        lambda username: type(users[0]).objects.filter(username=username), username="\x00stand-in"
    )
    for user in users:
        assert query.first(username=user.username) == user
    assert query.first(username="nobody") is None
    with pytest.raises(TypeError):
        query.first(name="x")


def test_a_prepared_query_whose_parameter_is_not_a_parameter_falls_back_to_the_orm(db):
    user = UserFactory()
    query = PreparedQuery(
        lambda pk: type(user).objects.filter(pk__in=[]) | type(user).objects.filter(pk=user.pk), pk=-1
    )
    assert query.first(pk=user.pk) == user
    assert next(iter(query._compiled.values())) is None


def test_gateway_notifications_skip_the_people_facing_middleware(client, db, sandbox):
    response = sandbox.client.post("/payments/webhooks/sandbox/", data=b"{}", content_type="application/json")
    assert response.status_code == 400  # rejected, as before: an unsigned body
    assert "X-Frame-Options" not in response  # clickjacking (and sessions, CSRF…) never ran
    assert "X-Request-Id" in response  # the middlewares before the lean one did
    page = client.get("/")
    assert "X-Frame-Options" in page
