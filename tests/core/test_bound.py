"""The notification's statements bound and prepared on the server (``core.bound``), and
the risk rules each process keeps for two seconds."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import bound, db
from core.prepared import PreparedQuery
from courses.models import Enrollment
from payments.locks import _payment_lock_by_number, payment_lock_by_number
from payments.services import payment_start
from tests.factories import CourseFactory, UserFactory


def _prepared_statements() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        return cursor.fetchone()[0]


def _enrol(learner, course, order_no):
    at = timezone.now()
    with (
        CaptureQueriesContext(connection) as sent,
        transaction.atomic(),
        bound.writes_in_one_bound_statement(),
    ):
        db.db_insert(
            [Enrollment(learner=learner, course=course, order_no=order_no, status="active", granted_at=at)]
        )
        learner.first_name = order_no
        db.db_update(learner, ["first_name"])
    return [q["sql"] for q in sent.captured_queries if q["sql"].startswith("WITH")]


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("prepared", [True, False])
def test_bound_writes_go_as_one_statement_prepared_unless_told_not_to(settings, prepared):
    settings.KPAY_PREPARED_STATEMENTS = prepared
    course = CourseFactory()
    learners = UserFactory.create_batch(3)
    before = _prepared_statements()
    statements = [_enrol(learner, course, f"K{i}") for i, learner in enumerate(learners)]

    assert all(len(sent) == 1 for sent in statements), "one statement each, seen by Django's logging"
    assert "INSERT" in statements[0][0] and "UPDATE" in statements[0][0]
    assert Enrollment.objects.filter(course=course).count() == 3
    names = (
        type(learners[0]).objects.filter(pk__in=[u.pk for u in learners]).values_list("first_name", flat=True)
    )
    assert sorted(names) == ["K0", "K1", "K2"]
    # psycopg prepared the statement once and ran it three times; told not to, nothing.
    assert _prepared_statements() - before == (1 if prepared else 0)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_refused_bound_write_raises_djangos_integrity_error_and_rolls_back(learner, course):
    at = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic(), bound.writes_in_one_bound_statement():
        for order_no in ("K1", "K2"):  # one enrollment per learner and course
            db.db_insert(
                [
                    Enrollment(
                        learner=learner, course=course, order_no=order_no, status="active", granted_at=at
                    )
                ]
            )
    assert not Enrollment.objects.filter(learner=learner).exists()


@pytest.mark.django_db
def test_the_bound_lock_answers_as_its_queryset(learner, course, sandbox):
    from orders.services import order_checkout

    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    plain = PreparedQuery(_payment_lock_by_number, payment_no="\x00payment", gateway="\x00gateway")
    for _ in range(2):  # the second time from the prepared statement
        with transaction.atomic():
            locked = payment_lock_by_number(payment_no=payment.payment_no, gateway="sandbox")
            expected = plain.first(payment_no=payment.payment_no, gateway="sandbox")
        assert locked == expected == payment
        for name in ("status", "amount", "created_at", "expires_at", "action"):
            assert getattr(locked, name) == getattr(expected, name)
        assert locked.order == order and locked.order.merchant == order.merchant
        assert locked.order.created_at == expected.order.created_at
        assert locked.order_has_other_open is expected.order_has_other_open is False
    with transaction.atomic():
        assert payment_lock_by_number(payment_no="P-none", gateway="sandbox") is None


@pytest.mark.django_db
def test_risk_rules_are_kept_two_seconds_per_process_and_a_change_here_applies_at_once(monkeypatch):
    from django.core.cache import cache

    from riskcontrol import engine
    from riskcontrol.models import Rule

    clock = [1000.0]
    monkeypatch.setattr(engine.time, "monotonic", lambda: clock[0])
    rule = Rule.objects.create(name="bound-test", kind="amount_above", params={"amount": 1}, action="review")
    assert "bound-test" in [r["name"] for r in engine.enabled_rules()]

    # Another process disables it: the shared cache is cleared, this process's copy stays...
    Rule.objects.filter(pk=rule.pk).update(enabled=False)
    cache.delete(engine.RULES_CACHE_KEY)
    clock[0] += 1.5
    assert "bound-test" in [r["name"] for r in engine.enabled_rules()]
    # ...for two seconds at most.
    clock[0] += 1
    assert "bound-test" not in [r["name"] for r in engine.enabled_rules()]

    rule.enabled = True
    rule.save()  # a change made in this process applies at once
    assert "bound-test" in [r["name"] for r in engine.enabled_rules()]


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_bound_lock_is_answered_inside_djangos_execute_wrappers(learner, course, sandbox):
    """Sent with its BEGIN (psycopg's pipeline mode), the lock's answer is read within the
    execute that Django's wrappers and query log time (``bench/paid_order.py``'s database
    wait), not after it."""
    from orders.services import order_checkout

    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    answered = []

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        answered.append(context["cursor"].cursor.pgresult is not None)
        return result

    for _ in range(2):  # the second time from the prepared statement
        with transaction.atomic(), connection.execute_wrapper(wrapper):
            locked = payment_lock_by_number(payment_no=payment.payment_no, gateway="sandbox")
        assert locked == payment and locked.order == order
    assert answered == [True, True]
