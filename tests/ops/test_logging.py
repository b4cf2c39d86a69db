"""Structured logs: JSON lines with the request id and the numbers they concern, and no
secret, token, card or bank account number on any path into the log (a message's
arguments, ``extra`` fields, a dict message, a traceback, a request's log line, Django's
own request logger, a Celery task, a warning, gunicorn's logger)."""

import io
import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from celery import shared_task
from cryptography.fernet import Fernet
from django.conf import settings as django_settings

from core.logging import ContextFilter, JsonFormatter, PlainFormatter, log_context, numbers_in, scrub
from core.request_id import ENQUEUED_AT_HEADER, TASK_HEADER, _add_request_id_header
from core.tasks import task_send

ROOT = Path(__file__).resolve().parents[2]

CARD = "4111 1111 1111 1111"
CARD_DIGITS = "4111111111111111"
BANK_ACCOUNT = "6222020012345678901"
PHONE = "13812345678"
KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
PRIVATE_KEY = f"-----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n-----END PRIVATE KEY-----"
BEARER = "tok_4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"
PASSWORD = "hunter2-correct-horse"
APIV3_KEY = "0123456789abcdef0123456789abcdef"
BROKER_PASSWORD = "broker-secret-pw-42"


@pytest.fixture
def secret_settings(settings):
    settings.SECRET_KEY = "django-secret-key-" + "x7" * 30
    settings.KPAY_FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings.KPAY_METRICS_TOKEN = "metrics-token-abcdefghijklmnopqrstuvwxyz"
    return settings


def secrets_in(settings) -> list[str]:
    return [
        settings.SECRET_KEY,
        settings.KPAY_FIELD_ENCRYPTION_KEYS[0],
        settings.KPAY_METRICS_TOKEN,
        CARD,
        CARD_DIGITS,
        BANK_ACCOUNT,
        PHONE,
        KEY_BODY,
        BEARER,
        PASSWORD,
        APIV3_KEY,
        BROKER_PASSWORD,
    ]


@pytest.fixture
def captured():
    """The root logger's output through kpay's two formatters, as configured in settings."""
    streams = {"json": io.StringIO(), "plain": io.StringIO()}
    handlers = []
    root = logging.getLogger()
    for name, stream in streams.items():
        config = django_settings.LOGGING["formatters"][name]
        formatter = JsonFormatter() if name == "json" else PlainFormatter(config["format"])
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
        handlers.append(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield streams
    root.setLevel(level)
    for handler in handlers:
        root.removeHandler(handler)


def json_lines(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@shared_task(name="tests.ops.log_secrets")
def log_secrets(note: str) -> None:
    logging.getLogger("celery.task.ops").warning("task saw %s", note)


def test_no_secret_reaches_the_log_on_any_path(secret_settings, captured, client, db, tmp_path):
    settings = secret_settings
    logger = logging.getLogger("payments.services.payments")
    # 1. arguments of a message
    logger.warning("charging card %s password=%s, Authorization: Bearer %s", CARD, PASSWORD, BEARER)
    # 2. extra fields, nested
    logger.info(
        "payout requested", extra={"account_number": BANK_ACCOUNT, "payload": {"note": f"call {PHONE}"}}
    )
    # 3. a dict message (JSON body of a gateway answer)
    logger.info({"apiv3_key": APIV3_KEY, "mchid": "1900000001", "body": f"key {settings.SECRET_KEY}"})
    # 4. a traceback carrying secrets in the exception's message
    try:
        raise ValueError(f"cannot decrypt with {settings.KPAY_FIELD_ENCRYPTION_KEYS[0]}: {PRIVATE_KEY}")
    except ValueError:
        logging.getLogger("settlement").exception("bank account %s unreadable", BANK_ACCOUNT)
    # 5. a request: the query string carries a token, the header a bearer token (404: Django logs it too)
    client.get(f"/no-such-page/?token={BEARER}&card={CARD_DIGITS}", HTTP_AUTHORIZATION=f"Bearer {BEARER}")
    # 6. a Celery task's own logger
    log_secrets.delay(f"metrics token {settings.KPAY_METRICS_TOKEN}")
    # 7. a warning, through py.warnings
    logging.captureWarnings(True)
    warnings.warn(f"broker at redis://:{BROKER_PASSWORD}@10.0.0.5:6379/0", UserWarning, stacklevel=1)
    # 8. gunicorn's own logger, as deploy/gunicorn.conf.py configures it (its own process)
    gunicorn_run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import logging, logging.config, runpy, sys\n"
            "conf = runpy.run_path('deploy/gunicorn.conf.py')\n"
            "logging.config.dictConfig(conf['logconfig_dict'])\n"
            "logging.getLogger('gunicorn.error').error("
            f"'worker crashed handling Authorization: Bearer %s from %s', {BEARER!r}, {PHONE!r})\n",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "kpay.settings",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gunicorn_run.returncode == 0, gunicorn_run.stderr

    outputs = {
        "json": captured["json"].getvalue(),
        "plain": captured["plain"].getvalue(),
        "gunicorn": gunicorn_run.stderr,
    }
    for name, text in outputs.items():
        assert text, f"nothing logged through {name}"
        for secret in secrets_in(settings):
            assert secret not in text, f"{secret!r} leaked through the {name} output:\n{text}"
    lines = json_lines(captured["json"])  # every line is one JSON object
    messages = " ".join(line["message"] for line in lines)
    for expected in ("charging card", "payout requested", "unreadable", "GET /no-such-page/ 404", "task saw"):
        assert expected in messages
    assert "[number ****1111]" in messages  # the last four digits stay, for support
    payout = next(line for line in lines if line["message"] == "payout requested")
    assert payout["account_number"] == "[redacted]" and "****5678" in payout["payload"]["note"]
    traceback = next(line for line in lines if "unreadable" in line["message"])
    assert "ValueError" in traceback["exc_info"] and "[private key]" in traceback["exc_info"]
    assert json.loads(outputs["gunicorn"].splitlines()[0])["logger"] == "gunicorn.error"


def test_the_scrubber_keeps_what_is_not_secret():
    text = (
        "order K2611249F3KQ0ZP1XT7A paid 9900 fen at 2026-11-30 10:30:00, sign_type=RSA2, "
        "Handling signal: term, passed=3"
    )
    assert scrub(text) == text
    assert scrub("sign=abcdef signature=xyz") == "sign=[redacted] signature=[redacted]"
    assert scrub("postgres://kpay:pg-pass-123@db:5432/kpay") == "postgres://kpay:[redacted]@db:5432/kpay"


def test_a_uuid_is_not_taken_for_a_card_number_but_a_card_still_is():
    task = "Task deliver[8541b393-1234-5678-9308-dd14e6583afa] succeeded"
    assert scrub(task) == task
    assert scrub("card 6222-0212-3456-7890 declined") == "card [number ****7890] declined"
    assert scrub("phone 13800138000.") == "phone [number ****8000]."


def test_json_lines_carry_the_request_id_and_the_numbers(captured, client, learner):
    from orders.services import order_checkout
    from tests.factories import CourseFactory

    order = order_checkout(learner=learner, course_slug=CourseFactory(price=1200).slug).order
    client.force_login(learner)
    response = client.get(f"/my/orders/{order.order_no}/", HTTP_X_REQUEST_ID="req-abc-12345")

    assert response.status_code == 200 and response["X-Request-ID"] == "req-abc-12345"
    line = next(line for line in json_lines(captured["json"]) if line["logger"] == "kpay.request")
    assert line["request_id"] == "req-abc-12345"
    assert line["order_no"] == order.order_no  # bound from the URL
    assert line["view"] == "orders:detail" and line["status"] == 200 and line["user_id"] == learner.pk
    assert line["level"] == "INFO" and line["time"].endswith("Z") and "duration_ms" in line
    assert numbers_in("payment P2611249F3KQ0ZP1XT7A of K2611249F3KQ0ZP1XT7B") == {
        "payment_no": "P2611249F3KQ0ZP1XT7A",
        "order_no": "K2611249F3KQ0ZP1XT7B",
    }


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("lb-7f3a9c2e-0001", True),
        ("short", False),  # under 8 characters
        ("x" * 65, False),
        ("has space in it", False),
        ("bad\nnewline-injected", False),
        ("<script>alert(1)</script>", False),
    ],
)
def test_an_incoming_request_id_is_kept_only_when_sane(client, db, given, kept):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=given)
    returned = response["X-Request-ID"]
    if kept:
        assert returned == given
    else:
        assert returned != given and len(returned) == 32 and int(returned, 16) >= 0


def test_each_request_gets_its_own_id(client, db):
    first, second = client.get("/healthz")["X-Request-ID"], client.get("/healthz")["X-Request-ID"]
    assert first != second


def test_a_task_enqueued_by_a_request_carries_its_request_id(captured, db):
    # Eager (the tests, the embedded default): the task runs in the request's context.
    with log_context(request_id="req-eager-0001"):
        task_send("tests.ops.log_secrets", note="hello")
    line = next(line for line in json_lines(captured["json"]) if line["message"] == "task saw hello")
    assert line["request_id"] == "req-eager-0001" and line["task_name"] == "tests.ops.log_secrets"
    assert line["task_id"]

    # Through a broker: the id travels in the message's headers, with the enqueue time.
    headers = {}
    with log_context(request_id="req-broker-0001"):
        _add_request_id_header(headers=headers)
    assert headers[TASK_HEADER] == "req-broker-0001" and headers[ENQUEUED_AT_HEADER] > 0
    outside = {}
    _add_request_id_header(headers=outside)
    assert TASK_HEADER not in outside  # none to carry
