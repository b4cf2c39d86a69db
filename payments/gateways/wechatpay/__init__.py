"""WeChat Pay API v3 for direct merchants (直连商户).

``KPAY_GATEWAYS["wechatpay"] = {"BACKEND": "payments.gateways.wechatpay.WeChatPayGateway", ...}``;
protocol pieces shared with the simulator live in :mod:`.protocol`.
"""

from .gateway import WeChatPayGateway

__all__ = ["WeChatPayGateway"]
