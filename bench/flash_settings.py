"""Settings of bench/flash_sale.py's servers: kpay's own, plus the bare view's URL."""

from kpay.settings import *  # noqa: F403

ROOT_URLCONF = "bench.flash_urls"
