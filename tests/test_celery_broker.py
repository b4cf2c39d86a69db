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
    from celery.contrib.testing.worker import start_worker

    from kpay.celery import app
    from orders.tasks import expire_unpaid_orders

    order = order_checkout(learner=learner, course_slug=course.slug).order
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=broker_url, task_always_eager=False)
    app._pool = None  # connections follow the new broker
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            expire_unpaid_orders.delay()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                order.refresh_from_db()
                if order.status == Order.Status.EXPIRED:
                    break
                time.sleep(0.1)
    finally:
        app.conf.update(saved)
        app._pool = None
    assert order.status == Order.Status.EXPIRED
