"""The whole path of one paid order in at most 9 SQL statements (8 once the risk rules
are cached): the notification's writes travel in one statement. A course this process
sold before is checked out in one statement (the course's read travels in the order's
INSERT, ``orders.hot_checkout``): 7 in all.

Run as a transactional test so each service's transaction is a real BEGIN/COMMIT, as
in production, rather than a SAVEPOINT pair inside the test's own transaction.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from orders.services import order_checkout
from payments.services import payment_start

PAID_ORDER_BUDGET = 9
# SQLite has no data-modifying CTEs: the notification's writes go one statement each there
# (BEGIN IMMEDIATE included), so the embedded default's path is longer by design.
SQLITE_PAID_ORDER_BUDGET = 15
KNOWN_COURSE_BUDGET = 7  # checkout 1, payment start 2, the notification 4 (BEGIN/COMMIT included)


@pytest.mark.django_db(transaction=True)
def test_one_paid_order_takes_at_most_9_statements(learner, course, sandbox):
    with CaptureQueriesContext(connection) as checkout:
        order = order_checkout(learner=learner, course_slug=course.slug).order
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    body = sandbox.trade_event(payment)  # the gateway's side: not counted
    headers = sandbox.headers(body)
    with CaptureQueriesContext(connection) as confirmation:
        response = sandbox.post(body, headers)

    assert response.status_code == 204
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    statements = [q["sql"] for q in checkout.captured_queries + confirmation.captured_queries]
    budget = SQLITE_PAID_ORDER_BUDGET if connection.vendor == "sqlite" else PAID_ORDER_BUDGET
    assert len(statements) <= budget, "\n".join(statements)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_paid_order_of_a_course_sold_before_takes_at_most_7_statements(learner, course, sandbox):
    from tests.factories import UserFactory

    _paid_order_statements(UserFactory(), course, sandbox)  # the first sale reads the course
    with CaptureQueriesContext(connection) as checkout:
        order = order_checkout(learner=learner, course_slug=course.slug).order
    with CaptureQueriesContext(connection) as start:
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    body = sandbox.trade_event(payment)
    headers = sandbox.headers(body)
    with CaptureQueriesContext(connection) as confirmation:
        assert sandbox.post(body, headers).status_code == 204

    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert len(checkout) == 1, "\n".join(q["sql"] for q in checkout.captured_queries)
    assert len(start) == 2, "\n".join(q["sql"] for q in start.captured_queries)
    statements = [q["sql"] for q in checkout.captured_queries + start.captured_queries]
    statements += [q["sql"] for q in confirmation.captured_queries]
    assert len(statements) <= KNOWN_COURSE_BUDGET, "\n".join(statements)


def _paid_order_statements(learner, course, sandbox, coupon=None) -> list[str]:
    with CaptureQueriesContext(connection) as checkout:
        order = order_checkout(learner=learner, course_slug=course.slug, coupon=coupon).order
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    body = sandbox.trade_event(payment)
    headers = sandbox.headers(body)
    with CaptureQueriesContext(connection) as confirmation:
        assert sandbox.post(body, headers).status_code == 204
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert (order.discount > 0) == (coupon is not None)
    return [q["sql"] for q in checkout.captured_queries + confirmation.captured_queries]


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")


# PostgreSQL: the promotions' writes ride on the order's statements there (data-modifying
# CTEs); other databases take the ORM's path, a statement per write.
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_coupon_adds_1_statement_and_a_transaction_to_the_paid_order_path(learner, sandbox):
    """A code or a wallet coupon costs one statement more (lock the coupon and read it),
    plus the BEGIN/COMMIT that makes checkout one transaction: its redemption travels in
    the order's INSERT and its consumption in the order's history INSERT when paid."""
    from promotions.services import coupon_claim
    from tests.factories import CouponFactory, CourseFactory

    _paid_order_statements(learner, CourseFactory(), sandbox)  # warms the risk rules' cache
    plain = _paid_order_statements(learner, CourseFactory(), sandbox)
    CouponFactory(code="BUDGET")
    code = _paid_order_statements(learner, CourseFactory(), sandbox, coupon="BUDGET")
    wallet = coupon_claim(learner=learner, coupon_id=CouponFactory(code=None).pk)
    claimed = _paid_order_statements(learner, CourseFactory(), sandbox, coupon=str(wallet.pk))

    assert len(plain) <= PAID_ORDER_BUDGET
    for statements in (code, claimed):
        assert len(_work(statements)) == len(_work(plain)) + 1, "\n".join(statements)
        assert len(statements) == len(plain) + 3, "\n".join(statements)


# PostgreSQL: the promotions' writes ride on the order's statements there (data-modifying
# CTEs); other databases take the ORM's path, a statement per write.
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_points_add_only_a_transaction_and_with_a_coupon_3_statements_in_all(learner, sandbox, staff):
    """Points cost no statement more (lock the learner's lots, take the points oldest
    first and write their history travel in the order's INSERT; their journal legs in
    the payment's one journal INSERT), only the BEGIN/COMMIT of checkout's transaction.
    A coupon and points together: three statements more than an order without them,
    the budget the promotions issue set."""
    from promotions.points import points_grant
    from tests.factories import CouponFactory, CourseFactory

    points_grant(actor=staff("support", "budget"), learner_id=learner.pk, points=10_000, reason="budget")
    _paid_order_statements(learner, CourseFactory(), sandbox)  # warms the risk rules' cache
    plain = _paid_order_statements(learner, CourseFactory(), sandbox)
    with_points = _points_order_statements(learner, CourseFactory(), sandbox, points=500)
    CouponFactory(code="BUDGETP")
    both = _points_order_statements(learner, CourseFactory(), sandbox, points=500, coupon="BUDGETP")

    assert len(_work(with_points)) == len(_work(plain)), "\n".join(with_points)
    assert len(with_points) == len(plain) + 2, "\n".join(with_points)
    assert len(_work(both)) == len(_work(plain)) + 1, "\n".join(both)
    assert len(both) <= len(plain) + 3, "\n".join(both)


def _work(statements):
    return [sql for sql in statements if not sql.strip().upper().startswith(TRANSACTION_CONTROL)]


def _points_order_statements(learner, course, sandbox, *, points, coupon=None) -> list[str]:
    with CaptureQueriesContext(connection) as checkout:
        order = order_checkout(learner=learner, course_slug=course.slug, coupon=coupon, points=points).order
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    body = sandbox.trade_event(payment)
    headers = sandbox.headers(body)
    with CaptureQueriesContext(connection) as confirmation:
        assert sandbox.post(body, headers).status_code == 204
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED and order.points_used == points
    return [q["sql"] for q in checkout.captured_queries + confirmation.captured_queries]
