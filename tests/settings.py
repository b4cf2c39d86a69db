"""Test settings: the real settings, from the environment, plus a few test-only facts.

``DATABASE_URL`` decides the database (``bin/test`` points it at PostgreSQL when one
is running). Gateways never leave the machine: the sandbox's base URL points at a
closed loopback port unless a test starts the live server and points it there.
"""

import os

from kpay.settings import *  # noqa: F403
from kpay.settings import BASE_DIR, KPAY_GATEWAYS

KPAY_KEY_DIR = BASE_DIR / "var" / "test-keys"
KPAY_PUBLIC_URL = "http://testserver"
CLOSED_LOOPBACK_URL = "http://127.0.0.1:9"  # the discard port: nothing listens
if "sandbox" in KPAY_GATEWAYS:
    KPAY_GATEWAYS["sandbox"]["OPTIONS"].update(
        base_url=f"{CLOSED_LOOPBACK_URL}/simulators/sandbox", key_dir=str(KPAY_KEY_DIR)
    )
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
KPAY_SIMULATOR_NOTIFY_SCHEDULE = [1, 1, 1]
os.environ.setdefault("KPAY_TESTING", "1")
