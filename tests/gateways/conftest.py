import copy

import pytest

from tests.settings import CLOSED_LOOPBACK_URL


@pytest.fixture
def live_simulators(live_server, settings):
    """Point every simulator-backed gateway, and kpay's public URL (where simulators send
    notifications), at the live server: calls travel over real HTTP on loopback."""
    gateways = copy.deepcopy(settings.KPAY_GATEWAYS)
    for config in gateways.values():
        options = config.get("OPTIONS", {})
        for name, value in list(options.items()):
            if isinstance(value, str) and value.startswith(CLOSED_LOOPBACK_URL):
                options[name] = live_server.url + value[len(CLOSED_LOOPBACK_URL) :]
    settings.KPAY_GATEWAYS = gateways
    settings.KPAY_PUBLIC_URL = live_server.url
    return live_server
