"""Tasks through a real broker (Redis or RabbitMQ) to a real worker, not eagerly."""

import os
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from orders.services import order_checkout


@pytest.fixture
def broker_url():
    url = os.environ.get("CELERY_TEST_BROKER_URL")
    if not url:
        message = "set CELERY_TEST_BROKER_URL (e.g. redis://127.0.0.1:6379/14) to run tasks through a broker"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run this test")
        pytest.skip(message)
    return url


@pytest.mark.django_db(transaction=True)
def test_expiry_task_goes_through_the_broker_to_a_worker(broker_url, learner, course):
    """A separate app, configured like kpay's but on a real broker, so nothing global
    (the eager default, cached connections) is touched."""
    from celery import Celery
    from celery.contrib.testing.worker import start_worker

    app = Celery("kpay-broker-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(broker_url=broker_url, task_always_eager=False, task_default_queue="kpay-broker-test")
    app.autodiscover_tasks(force=True)

    order = order_checkout(learner=learner, course_slug=course.slug).order
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        app.send_task("orders.tasks.expire_unpaid_orders")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            order.refresh_from_db()
            if order.status == Order.Status.EXPIRED:
                break
            time.sleep(0.1)
    assert order.status == Order.Status.EXPIRED
