import re

import httpx

from tests.gateways.contract import GatewayContract
from tests.sandbox import SandboxDriver


def press(code_url: str, action: str) -> httpx.Response:
    with httpx.Client(timeout=10) as browser:
        page = browser.get(code_url)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        return browser.post(
            code_url, data={"csrfmiddlewaretoken": token, "action": action}, headers={"Referer": code_url}
        )


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
