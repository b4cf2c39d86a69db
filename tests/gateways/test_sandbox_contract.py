from tests.cashier import press
from tests.gateways.contract import GatewayContract
from tests.sandbox import SandboxDriver


class TestSandboxGateway(GatewayContract):
    alias = "sandbox"
    channel = "sandbox"

    def pay(self, payment):
        assert press(payment.action["code_url"], "pay").status_code == 200

    def signed_success_notification(self, payment):
        from django.conf import settings

        driver = SandboxDriver(settings)
        body = driver.trade_event(payment)
        return body, driver.headers(body), "application/json"
