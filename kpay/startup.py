"""What a web process says when it starts (``kpay.wsgi``, ``kpay.asgi``; ``runserver``
loads the WSGI application at startup too)."""

import logging

from django.conf import settings

logger = logging.getLogger("kpay")


def log_public_url() -> None:
    """Say which public URL this process gives gateways: a wrong one is otherwise only
    noticed when no payment ever finishes."""
    logger.info(
        "Public URL: %s (gateways send their notifications here, cashiers send learners back here; "
        "set by KPAY_PUBLIC_URL)",
        settings.KPAY_PUBLIC_URL,
    )
