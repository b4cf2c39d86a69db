"""``/healthz`` and ``/readyz``: cheap, for any host, over plain HTTP, revealing nothing
but which check failed."""

import copy
import logging
import os

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

pytestmark = pytest.mark.django_db

ALL_OK = dict.fromkeys(("database", "migrations", "cache", "broker", "gateways"), "ok")


def test_healthz_answers_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")  # a balancer probing by IP
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store" and not response.cookies
    assert response["X-Request-ID"]


def test_readyz_when_everything_is_up(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):  # SELECT 1, the migrations table (and its existence)
        response = client.get("/readyz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": ALL_OK}
    assert not response.cookies


def test_probes_answer_in_production_over_plain_http(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["pay.example.com"]
    assert client.get("/readyz", HTTP_HOST="10.1.2.3").status_code == 200
    assert client.get("/healthz", HTTP_HOST="10.1.2.3").status_code == 200
    assert client.get("/", HTTP_HOST="pay.example.com").status_code == 301  # the site itself: HTTPS


def test_a_misconfigured_gateway_makes_the_process_unready_without_saying_how(client, settings, caplog):
    gateways = copy.deepcopy(settings.KPAY_GATEWAYS)
    gateways["sandbox"]["OPTIONS"]["private_key_path"] = "/etc/kpay/secret-keys/missing.pem"
    settings.KPAY_GATEWAYS = gateways
    with caplog.at_level(logging.ERROR, logger="core.health"):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {**ALL_OK, "gateways": "fail"}}
    assert b"secret-keys" not in response.content and b"kpay.E" not in response.content
    assert "kpay.E005" in caplog.text and "missing.pem" in caplog.text  # the operators are told


def test_pending_migrations_make_the_process_unready(client):
    (app, name) = MigrationLoader(connection).graph.leaf_nodes("core")[0]  # the latest
    MigrationRecorder.Migration.objects.filter(app=app, name=name).delete()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["migrations"] == "fail"


def test_an_unreachable_cache_makes_the_process_unready(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["cache"] == "fail"


def test_an_unreachable_broker_makes_the_process_unready(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["broker"] == "fail"


def test_a_reachable_broker_is_ready(client, settings):
    url = os.environ.get("CELERY_TEST_BROKER_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must check the broker: set CELERY_TEST_BROKER_URL")
        pytest.skip("set CELERY_TEST_BROKER_URL to check a real broker")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = url
    assert client.get("/readyz").json()["checks"]["broker"] == "ok"


def test_probes_only_read(client):
    for path in ("/healthz", "/readyz"):
        response = client.post(path)
        assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
    assert client.head("/readyz").status_code == 200
