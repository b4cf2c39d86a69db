import pytest

from tests.memberships.helpers import (  # noqa: F401 (the folder's fixtures)
    _english,
    buy_plan,
    clock,
    gateway_refunds,
    give_points,
    plan,
    studio,
    support,
    support2,
)
from tests.memberships.renewal_support import DRIVERS, WITHHOLDING_GATEWAYS, make_membership


# -- automatic renewal ----------------------------------------------------------------------
@pytest.fixture(params=WITHHOLDING_GATEWAYS)
def _withholding_configured(request, settings):
    DRIVERS[request.param].configure(settings)
    return request.param


@pytest.fixture
def withholding(_withholding_configured, live_simulators, settings):
    """The driver of one withholding gateway, its simulator on the live server."""
    return DRIVERS[_withholding_configured](settings, live_simulators)


@pytest.fixture
def membership(db):
    return make_membership()
