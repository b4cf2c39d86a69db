"""Test settings: the real settings, from the environment, plus a few test-only facts.

``DATABASE_URL`` decides the database (``bin/test`` points it at PostgreSQL when one
is running). Gateways never leave the machine: the sandbox's base URL points at a
closed loopback port unless a test starts the live server and points it there.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from kpay.settings import *  # noqa: F403
from kpay.settings import BASE_DIR, KPAY_GATEWAYS, STORAGES
from kpay.settings import KPAY_KEY_DIR as _SITE_KEY_DIR
from kpay.settings import KPAY_PUBLIC_URL as _SITE_URL

KPAY_KEY_DIR = BASE_DIR / "var" / "test-keys"
# Uploads (course covers, bills to reconcile) made by tests: folders of this test run's
# own, removed at exit.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="kpay-test-media-"))
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
KPAY_PRIVATE_ROOT = Path(tempfile.mkdtemp(prefix="kpay-test-private-"))
atexit.register(shutil.rmtree, KPAY_PRIVATE_ROOT, ignore_errors=True)
STORAGES = {
    **STORAGES,
    "private": {**STORAGES["private"], "OPTIONS": {"location": KPAY_PRIVATE_ROOT}},
}
KPAY_PUBLIC_URL = "http://testserver"
CLOSED_LOOPBACK_URL = "http://127.0.0.1:9"  # the discard port: nothing listens
# Simulator-backed gateways point at the site's own URL; in tests, at nothing (a test
# that wants them starts the live server and points them there: tests/gateways). Their
# development key files move to the tests' own key folder.
for _config in KPAY_GATEWAYS.values():
    _options = _config.get("OPTIONS", {})
    for _name, _value in list(_options.items()):
        if isinstance(_value, str) and _value.startswith(_SITE_URL):
            _options[_name] = CLOSED_LOOPBACK_URL + _value[len(_SITE_URL) :]
        elif isinstance(_value, str) and _value.startswith(str(_SITE_KEY_DIR)):
            _options[_name] = str(KPAY_KEY_DIR) + _value[len(str(_SITE_KEY_DIR)) :]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
KPAY_SIMULATOR_TIME_SCALE = 0.001
os.environ.setdefault("KPAY_TESTING", "1")
