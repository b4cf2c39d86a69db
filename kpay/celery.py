"""The Celery application. Tasks live in each app's ``tasks.py``."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kpay.settings")

app = Celery("kpay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _keep_django_logging(**kwargs):
    """Workers and beat log through Django's ``LOGGING`` (JSON, scrubbed, with the task's
    request id) instead of Celery's own configuration: a receiver here tells Celery to
    leave logging alone, and Django configures it when Celery sets Django up."""
