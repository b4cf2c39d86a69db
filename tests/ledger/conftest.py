from tests.refunds.conftest import _english, buy, gateway_refunds, paid, staff, support  # noqa: F401
