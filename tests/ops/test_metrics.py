"""``/metrics``: who may read it, what it counts as things happen, the gauges read at
scrape time, and the sum over several processes (gunicorn workers, Celery workers)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import rejection_reason
from payments.models import Refund
from payments.services import refund_request

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-0123456789abcdefghij"


@pytest.fixture
def scraper(client, settings):
    settings.KPAY_METRICS_TOKEN = TOKEN

    def scrape() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return scrape


def value(name, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_without_a_token_or_networks_there_are_no_metrics(client, settings):
    settings.KPAY_METRICS_TOKEN = ""
    settings.KPAY_METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 404


def test_the_token_is_required_when_set(client, settings):
    settings.KPAY_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 403
    answer = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_HOST="10.0.0.9:8000")
    assert answer.status_code == 200 and b"kpay_http_request_duration_seconds" in answer.content


def test_allowed_networks_hide_it_from_everyone_else(client, settings):
    settings.KPAY_METRICS_TOKEN = ""
    settings.KPAY_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.2.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 404
    # A forged X-Forwarded-For from an untrusted client changes nothing.
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="10.2.3.4").status_code == 404
    settings.KPAY_METRICS_TOKEN = TOKEN  # both: the network first, then the token
    assert client.get("/metrics", REMOTE_ADDR="10.2.3.4").status_code == 403
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", **auth).status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="10.2.3.4", **auth).status_code == 200


def test_request_latency_is_labelled_by_view(client, scraper):
    before = value(
        "kpay_http_request_duration_seconds_count", view="courses:catalog", method="GET", status="200"
    )
    client.get("/")
    client.get("/no-such-page/")
    samples = scraper()
    key = (
        "kpay_http_request_duration_seconds_count",
        (("method", "GET"), ("status", "200"), ("view", "courses:catalog")),
    )
    assert samples[key] == before + 1
    assert not any("no-such-page" in str(labels) for _name, labels in samples)  # paths never become labels


def test_payments_and_refunds_are_counted_as_they_happen(
    buy, learner, course, scraper, django_capture_on_commit_callbacks
):
    started = value("kpay_payments_total", channel="sandbox", outcome="started")
    succeeded = value("kpay_payments_total", channel="sandbox", outcome="succeeded")
    requested = value("kpay_refunds_total", state="requested")
    with django_capture_on_commit_callbacks(execute=True):  # counted when the transaction commits
        order, _payment = buy(learner, course)
    assert value("kpay_payments_total", channel="sandbox", outcome="started") == started + 1
    assert value("kpay_payments_total", channel="sandbox", outcome="succeeded") == succeeded + 1

    with django_capture_on_commit_callbacks(execute=True):
        refund_request(learner=learner, order_no=order.order_no, reason="changed my mind")

    assert value("kpay_refunds_total", state="requested") == requested + 1
    samples = scraper()
    assert samples[("kpay_refunds_open", (("state", "requested"),))] == 1
    assert samples[("kpay_refunds_open", (("state", "processing"),))] == 0
    assert samples[("kpay_oldest_open_refund_age_seconds", ())] >= 0
    assert Refund.objects.get().status == Refund.Status.REQUESTED


def test_a_rolled_back_payment_is_not_counted(learner, course, sandbox, django_capture_on_commit_callbacks):
    from django.db import transaction

    from orders.services import order_checkout
    from payments.services import payment_start

    order = order_checkout(learner=learner, course_slug=course.slug).order
    before = value("kpay_payments_total", channel="sandbox", outcome="started")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
        transaction.set_rollback(True)
    assert value("kpay_payments_total", channel="sandbox", outcome="started") == before


def test_rejected_notifications_are_counted_by_reason(sandbox, paid):
    _order, payment = paid
    before = value("kpay_notifications_rejected_total", gateway="sandbox", reason="signature")
    body = sandbox.trade_event(payment)
    headers = sandbox.headers(body)
    response = sandbox.post(body.replace(b"SUCCESS", b"SUCCESs"), headers)  # tampered after signing
    assert response.status_code >= 400
    assert value("kpay_notifications_rejected_total", gateway="sandbox", reason="signature") == before + 1
    assert rejection_reason("stale timestamp") == "timestamp"
    assert rejection_reason("notify_time older than Alipay's retry schedule") == "timestamp"
    assert rejection_reason("malformed notification: KeyError") == "malformed"
    assert rejection_reason("something new") == "other"


def test_the_oldest_pending_payment_is_a_gauge(learner, course, sandbox, scraper):
    from datetime import timedelta

    from orders.services import order_checkout
    from payments.models import Payment
    from payments.services import payment_start

    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    Payment.objects.filter(pk=payment.pk).update(created_at=payment.created_at - timedelta(hours=2))
    age = scraper()[("kpay_oldest_pending_payment_age_seconds", ())]
    assert 7200 <= age < 7300


def broken_collector():
    raise RuntimeError("the database went away")


def test_a_failing_collector_is_counted_and_the_rest_still_answer(settings, scraper):
    settings.KPAY_METRICS_COLLECTORS = [
        *settings.KPAY_METRICS_COLLECTORS,
        "tests.ops.test_metrics.broken_collector",
    ]
    samples = scraper()
    assert (
        samples[
            (
                "kpay_metrics_collector_errors_total",
                (("collector", "tests.ops.test_metrics.broken_collector"),),
            )
        ]
        >= 1
    )
    assert ("kpay_payout_queue", (("state", "requested"),)) in samples
    assert ("kpay_reconciliation_differences_open", (("gateway", ""), ("kind", ""))) in samples


def test_the_celery_queue_lag_is_the_age_of_its_oldest_message(settings, scraper):
    url = os.environ.get("CELERY_TEST_BROKER_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must measure the queue: set CELERY_TEST_BROKER_URL")
        pytest.skip("set CELERY_TEST_BROKER_URL to measure a real queue")
    import redis
    from celery import Celery

    queue = "kpay-ops-lag-test"
    client = redis.Redis.from_url(url)
    client.delete(queue)
    app = Celery("kpay-ops-lag", set_as_current=False)
    app.conf.update(broker_url=url, task_default_queue=queue)
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = url, False
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    try:
        app.send_task("core.tasks.sweep_idempotency_records")  # nobody consumes this queue
        app.send_task("core.tasks.sweep_idempotency_records")
        time.sleep(1.2)
        samples = scraper()
        assert samples[("kpay_celery_queue_length", (("queue", queue),))] == 2
        assert 1.0 <= samples[("kpay_celery_queue_lag_seconds", (("queue", queue),))] < 30
        oldest = json.loads(client.lindex(queue, -1))
        assert oldest["headers"]["kpay_enqueued_at"] > 0
    finally:
        client.delete(queue)
        client.close()


def test_several_processes_add_up(tmp_path, monkeypatch, scraper):
    """Two processes (as two gunicorn or Celery workers) count into PROMETHEUS_MULTIPROC_DIR;
    /metrics reads the sum."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    script = (
        "from core.metrics import PAYMENTS, REQUEST_LATENCY\n"
        "PAYMENTS.labels(channel='wechat_native', outcome='succeeded').inc()\n"
        "REQUEST_LATENCY.labels(view='orders:detail', method='GET', status='200').observe(0.02)\n"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scraper()
    assert samples[("kpay_payments_total", (("channel", "wechat_native"), ("outcome", "succeeded")))] == 2
    key = (
        "kpay_http_request_duration_seconds_count",
        (("method", "GET"), ("status", "200"), ("view", "orders:detail")),
    )
    assert samples[key] == 2
    assert ("kpay_payout_queue", (("state", "requested"),)) in samples  # the gauges are there too
