"""The WeChat Pay backend as development configures it: the product's backend, plus the
one thing only the simulator has.

Real WeChat Pay answers a native order with a ``weixin://`` code that only the WeChat
app opens. The simulator has an http cashier for that code, and the pay page offers an
http(s) ``redirect_url`` as "open the cashier on this device"; this subclass fills it
in. The product's backend knows nothing about the simulator.
"""

import re
from dataclasses import replace

from payments.gateways.base import PaymentAction, PaymentRequest
from payments.gateways.wechatpay import WeChatPayGateway

_CODE_TOKEN = re.compile(r"[?&]pr=([\w-]+)")


class SimulatorWeChatPayGateway(WeChatPayGateway):
    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        action = super().create_payment(request)
        match = _CODE_TOKEN.search(action.code_url) if action.kind == "qr" else None
        if match is None:
            return action
        return replace(action, redirect_url=f"{self.api_base}/pay/{match[1]}/")
