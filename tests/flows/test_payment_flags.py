"""A payment flag is kept in the payment's history: a later flag never erases an earlier one."""

import pytest
from django.urls import reverse

from orders.services import order_checkout
from payments.models import Payment, PaymentStatusChange
from payments.services import payment_flag, payment_start

pytestmark = pytest.mark.django_db


def flags_of(payment):
    flags = payment.status_changes.filter(transition="flag")
    return list(flags.values_list("from_status", "to_status", "reason", "actor"))


@pytest.fixture
def pending(learner, course):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    return payment_start(learner=learner, order_no=order.order_no, channel="sandbox")


def test_each_flag_is_a_history_row_and_the_field_keeps_the_latest(pending):
    payment_flag(payment=pending, why="first look")
    payment_flag(payment=pending, why="x" * 300)

    pending.refresh_from_db()
    assert pending.flag == "x" * 255
    assert flags_of(pending) == [
        ("pending", "pending", "first look", None),
        ("pending", "pending", "x" * 255, None),
    ]


def test_mismatched_notifications_are_each_recorded(pending, sandbox):
    assert sandbox.pay(pending, amount=1).status_code == 400
    assert sandbox.pay(pending, currency="USD").status_code == 400

    pending.refresh_from_db()
    reasons = [reason for _from, _to, reason, _actor in flags_of(pending)]
    assert len(reasons) == 2
    assert "amount 1 CNY" in reasons[0] and "USD" in reasons[1]
    assert pending.flag == reasons[1] and pending.status == Payment.Status.PENDING


def test_an_unapplied_payment_records_its_flag_next_to_the_transition(learner, course, sandbox):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    first = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    Payment.objects.filter(pk=first.pk).update(expires_at=first.created_at)
    second = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    assert sandbox.pay(first).status_code == sandbox.pay(second).status_code == 204

    second.refresh_from_db()
    history = list(second.status_changes.values_list("transition", "from_status", "to_status", "reason"))
    assert [row[0] for row in history] == ["mark_unapplied", "flag"]
    assert history[1][1:] == ("unapplied", "unapplied", second.flag)
    assert "refund it" in second.flag
    assert not first.status_changes.filter(transition="flag").exists()


def test_the_admin_shows_flags_in_the_status_history(client, admin_user, pending):
    payment_flag(payment=pending, why="look at me")
    client.force_login(admin_user)
    page = client.get(reverse("admin:payments_payment_change", args=[pending.pk]))
    assert page.status_code == 200 and "look at me" in page.text
    assert PaymentStatusChange.objects.filter(payment=pending, transition="flag").count() == 1
