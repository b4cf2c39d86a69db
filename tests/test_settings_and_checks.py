"""Configuration: the embedded default, production refusals, gateway system checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, **env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KPAY_", "DATABASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CELERY_"))
    }
    clean.update(DJANGO_SETTINGS_MODULE="kpay.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


PRODUCTION = {
    "KPAY_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "pay.example.com",
    "KPAY_PUBLIC_URL": "https://pay.example.com",
    "DATABASE_URL": "sqlite:////tmp/kpay-check.sqlite3",
    "KPAY_FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
}


def test_production_passes_check_deploy_with_no_warnings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"KPAY_SANDBOX_ENABLED": "true"}, "sandbox"),
        ({"DEBUG": "true"}, "DEBUG"),
        ({"KPAY_FIELD_ENCRYPTION_KEY": ""}, "Production needs KPAY_FIELD_ENCRYPTION_KEY"),
        ({"KPAY_FIELD_ENCRYPTION_KEY": "not-a-key"}, "KPAY_FIELD_ENCRYPTION_KEY: key 1 is not a Fernet key"),
        (
            {"KPAY_FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode() + ",short-and-secret"},
            "KPAY_FIELD_ENCRYPTION_KEY: key 2 is not a Fernet key",
        ),
    ],
)
def test_production_refuses_to_start_misconfigured(override, message):
    result = run_manage("check", **{**PRODUCTION, **override})
    assert result.returncode != 0
    assert message in result.stderr


def test_a_malformed_encryption_key_is_never_echoed():
    result = run_manage("check", **{**PRODUCTION, "KPAY_FIELD_ENCRYPTION_KEY": "hunter2-not-a-fernet-key"})
    assert result.returncode != 0 and "is not a Fernet key" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_production_has_no_sandbox_routes():
    result = run_manage(
        "shell",
        "-c",
        "from django.urls import resolve; resolve('/simulators/sandbox/cashier/')",
        **PRODUCTION,
    )
    assert result.returncode != 0 and "Resolver404" in result.stderr


def test_gateway_misconfiguration_is_a_system_check_error(settings):
    settings.KPAY_GATEWAYS = {
        "broken": {"BACKEND": "payments.gateways.nowhere.Gateway"},
        "half": {"BACKEND": "payments.gateways.sandbox.SandboxGateway", "OPTIONS": {"merchant_id": "m"}},
        "wrong": {"BACKEND": "django.http.HttpResponse"},
    }
    ids = sorted(error.id for error in run_checks() if error.id.startswith("kpay."))
    assert ids == ["kpay.E003", "kpay.E004", "kpay.E005", "kpay.E005"]


def test_bad_durations_are_refused():
    result = run_manage("check", KPAY_ORDER_TTL="half an hour")
    assert result.returncode != 0 and "KPAY_ORDER_TTL" in result.stderr
