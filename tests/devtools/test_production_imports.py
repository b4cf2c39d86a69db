"""A production-settings run imports no devtools module, whatever it loads.

A fresh interpreter with ``KPAY_ENV=production`` sets Django up, loads the root URLconf,
autodiscovers the admin and the Celery tasks, then imports *every* module of every
project app (models, admin, urls, tasks, views, services, management commands …), so an
import of devtools added anywhere in the product shows up here. The same run in
development is the control: there devtools is installed and must be seen.
"""

import json
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

SCRIPT = r"""
import importlib
import json
import pkgutil
import sys
from pathlib import Path

import django

django.setup()

from django.apps import apps
from django.conf import settings
from django.contrib import admin

importlib.import_module(settings.ROOT_URLCONF)
admin.autodiscover()
from kpay.celery import app

app.loader.import_default_modules()

DEV_ONLY = {"kpay.dev_urls"}  # the development URLconf: included only with the sandbox
base = Path(settings.BASE_DIR)
packages = {"kpay", "core"} | {
    config.name
    for config in apps.get_app_configs()
    if Path(config.path).parent == base and not config.name.startswith("devtools")
}
walked = []
for name in sorted(packages):
    try:
        package = importlib.import_module(name)
    except ModuleNotFoundError:
        continue
    for module in pkgutil.walk_packages(package.__path__, prefix=name + "."):
        if module.name in DEV_ONLY or ".migrations" in module.name:
            continue
        importlib.import_module(module.name)
        walked.append(module.name)

strings = json.dumps(settings.KPAY_GATEWAYS)
print(
    json.dumps(
        {
            "walked": walked,
            "devtools": sorted(m for m in sys.modules if m == "devtools" or m.startswith("devtools.")),
            "installed": [c.name for c in apps.get_app_configs()],
            "simulator_urls": "/simulators/" in strings,
            "beat_tasks": [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()],
        }
    )
)
"""


def _run(tmp_path: Path, **env) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("KPAY_", "DATABASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CELERY_", "CACHE_URL")
        )
        and not k.startswith(("WECHATPAY_", "ALIPAY_", "DJANGO_"))
    }
    clean.update(
        DJANGO_SETTINGS_MODULE="kpay.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        KPAY_KEY_DIR=str(tmp_path / "keys"),
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=110
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _secret_key() -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(60))


@pytest.mark.timeout(240)
def test_a_production_run_imports_no_devtools_module(tmp_path):
    from cryptography.fernet import Fernet

    seen = _run(
        tmp_path,
        KPAY_ENV="production",
        SECRET_KEY=_secret_key(),
        ALLOWED_HOSTS="example.com",
        KPAY_FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
    )

    assert seen["devtools"] == []
    assert not any(name.startswith("devtools") for name in seen["installed"])
    assert seen["simulator_urls"] is False
    assert not any(task.startswith("devtools.") for task in seen["beat_tasks"])
    # The walk was broad: every layer of every app, the gateways and the admin included.
    walked = set(seen["walked"])
    for module in (
        "courses.models",
        "orders.admin",
        "payments.gateways.wechatpay.gateway",
        "payments.gateways.alipay.bill",
        "payments.gateways.sandbox.gateway",
        "payments.tasks",
        "riskcontrol.services",
        "settlement.admin",
        "reconciliation.tasks",
        "kpay.urls",
    ):
        assert module in walked
    assert not (tmp_path / "keys").exists()  # and no development keys were made


@pytest.mark.timeout(240)
def test_the_same_run_in_development_sees_devtools(tmp_path):
    """The control: with the sandbox, devtools is installed, its beat entry scheduled and
    its development keys made; the detector above would have seen it."""
    seen = _run(tmp_path, KPAY_ENV="development", SECRET_KEY=_secret_key())

    assert "devtools" in seen["devtools"] and "devtools.simulators.tasks" in seen["devtools"]
    assert "devtools.simulators.tasks.deliver_due_notifications" in seen["beat_tasks"]
    assert seen["simulator_urls"] is True
    assert (tmp_path / "keys" / "wechatpay-apiv3.key").exists()
