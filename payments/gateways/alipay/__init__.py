"""Alipay open platform (RSA2), direct merchant.

``KPAY_GATEWAYS["alipay"] = {"BACKEND": "payments.gateways.alipay.AlipayGateway", ...}``;
protocol pieces live in :mod:`.protocol`, the bill reader in :mod:`.bill`.
"""

from .gateway import AlipayGateway

__all__ = ["AlipayGateway"]
