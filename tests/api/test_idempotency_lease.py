"""Issue 11: an Idempotency-Key left "in progress" by a crash is not wedged forever.

A crash (kill -9, a dropped database connection) leaves the record as it was when the
request began: status_code empty. These tests make that record directly, then retry."""

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from core.api.idempotency import idempotency_records_sweep
from core.models import IdempotencyRecord
from core.tasks import task_send
from orders.models import Order

KEY = "crash-1"


def body_for(course) -> bytes:
    return json.dumps({"course": course.slug}).encode()


def crashed_record(learner, course, *, lease_left: timedelta) -> IdempotencyRecord:
    """What a request killed mid-flight leaves behind, its lease ending ``lease_left`` from now."""
    scope = "POST /api/v1/orders/"
    return IdempotencyRecord.objects.create(
        user=learner,
        key=KEY,
        scope=scope,
        fingerprint=hashlib.sha256(scope.encode() + b"\n" + body_for(course)).hexdigest(),
        locked_until=timezone.now() + lease_left,
    )


def retry(client: APIClient, course, key: str = KEY):
    return client.post(
        "/api/v1/orders/", data=body_for(course), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.fixture
def learner_client(learner):
    client = APIClient()
    client.force_authenticate(learner)
    return client


def test_a_retry_within_the_lease_is_still_told_to_wait(learner_client, learner, course):
    crashed_record(learner, course, lease_left=timedelta(seconds=30))
    response = retry(learner_client, course)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_progress"
    assert not Order.objects.exists()


def test_a_retry_after_the_lease_takes_the_key_over_and_runs_the_request(learner_client, learner, course):
    crashed_record(learner, course, lease_left=-timedelta(seconds=1))

    response = retry(learner_client, course)

    assert response.status_code == 201
    assert Order.objects.filter(order_no=response.json()["order_no"]).exists()
    record = IdempotencyRecord.objects.get(user=learner, key=KEY)
    assert record.status_code == 201 and record.locked_until is None
    replay = retry(learner_client, course)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == response.json()


def test_a_key_wedged_before_leases_existed_is_freed_by_its_age(learner_client, learner, course, settings):
    """The migration gives old in-progress keys a lease from their creation."""
    from importlib import import_module

    record = crashed_record(learner, course, lease_left=timedelta(0))
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        locked_until=None, created_at=timezone.now() - timedelta(minutes=15)
    )
    migration = import_module("core.migrations.0002_idempotency_lease")
    from django.apps import apps

    migration.lease_existing_keys(apps, None)
    assert retry(learner_client, course).status_code == 201


def test_another_body_is_still_refused_after_the_lease(learner_client, learner, course):
    crashed_record(learner, course, lease_left=-timedelta(seconds=1))
    response = learner_client.post(
        "/api/v1/orders/", {"course": "something-else"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY
    )
    assert response.status_code == 422
    assert not Order.objects.exists()


def test_the_sweep_deletes_stale_keys_and_old_answers_only(learner, course, settings):
    settings.KPAY_IDEMPOTENCY_RETENTION = timedelta(hours=24)
    now = timezone.now()
    stale = crashed_record(learner, course, lease_left=-timedelta(seconds=1))
    running = IdempotencyRecord.objects.create(
        user=learner, key="running", scope="s", fingerprint="f", locked_until=now + timedelta(seconds=30)
    )
    old, recent = (
        IdempotencyRecord.objects.create(user=learner, key=k, scope="s", fingerprint="f", status_code=201)
        for k in ("old", "recent")
    )
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=now - timedelta(hours=25))

    task_send("core.tasks.sweep_idempotency_records")  # by name, as beat sends it

    left = set(IdempotencyRecord.objects.values_list("pk", flat=True))
    assert left == {running.pk, recent.pk}
    assert stale.pk not in left
    settings.KPAY_IDEMPOTENCY_RETENTION = timedelta(0)  # 0: answered keys are kept
    IdempotencyRecord.objects.filter(pk=recent.pk).update(created_at=now - timedelta(days=30))
    assert idempotency_records_sweep() == 0


def test_the_sweep_is_scheduled(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "core.tasks.sweep_idempotency_records" in tasks


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_retries_after_the_lease_take_the_key_over_once(learner, course):
    crashed_record(learner, course, lease_left=-timedelta(seconds=1))
    barrier = threading.Barrier(10)

    def run(_):
        client = APIClient()
        client.force_authenticate(learner)
        barrier.wait()
        try:
            response = retry(client, course)
            return response.status_code, response.get("Idempotent-Replayed", "")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(run, range(10)))

    ran = [r for r in results if r == (201, "")]
    assert len(ran) == 1, results
    assert all(r in ((201, "true"), (409, "")) for r in results if r not in ran), results
    assert Order.objects.count() == 1
    assert IdempotencyRecord.objects.get(user=learner, key=KEY).status_code == 201
