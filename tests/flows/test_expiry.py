from datetime import timedelta

from django.utils import timezone

from orders.models import Order
from orders.services import order_checkout
from orders.tasks import expire_unpaid_orders
from payments.models import Payment
from payments.services import payment_start


def test_unpaid_orders_past_their_deadline_expire(learner, course, settings):
    due = order_checkout(learner=learner, course_slug=course.slug).order
    Order.objects.filter(pk=due.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    from tests.factories import CourseFactory

    fresh = order_checkout(learner=learner, course_slug=CourseFactory().slug).order

    assert expire_unpaid_orders() == 1
    due.refresh_from_db()
    fresh.refresh_from_db()
    assert due.status == Order.Status.EXPIRED and due.closed_at is not None
    assert due.status_changes.get().transition == "expire"
    assert fresh.status == Order.Status.PENDING_PAYMENT
    assert expire_unpaid_orders() == 0


def test_an_expired_order_cannot_be_paid_and_checkout_opens_a_new_one(learner, course):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    result = order_checkout(learner=learner, course_slug=course.slug)

    assert result.created and result.order.pk != order.pk
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED


def test_a_late_success_for_an_expired_order_is_kept_for_refund(learner, course, sandbox):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expire_unpaid_orders()  # closing the trade fails: the gateway is unreachable in tests

    assert sandbox.pay(payment).status_code == 204

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.UNAPPLIED and "expired" in payment.flag
    assert order.status == Order.Status.EXPIRED
