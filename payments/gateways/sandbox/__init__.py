"""The sandbox gateway: kpay's own simulated third-party gateway, for the demo and tests.

``KPAY_GATEWAYS["sandbox"] = {"BACKEND": "payments.gateways.sandbox.SandboxGateway", ...}``;
protocol pieces live in :mod:`.protocol`.
"""

from .gateway import SandboxGateway

__all__ = ["SandboxGateway"]
