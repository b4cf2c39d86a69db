from tests.refunds.conftest import _english, buy, gateway_refunds, paid, support  # noqa: F401
