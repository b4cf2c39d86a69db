"""Development tools: the gateway simulators, development keys, demo data, dev URLs.

Installed only where the sandbox is enabled (``KPAY_SANDBOX_ENABLED``); nothing in the
product imports it (a test runs production settings and checks).
"""
