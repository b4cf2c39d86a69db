"""Test helpers that play the sandbox gateway's part: what its simulator would send."""

import json
import secrets

from django.test import Client
from django.utils import timezone

from devtools.keys import SANDBOX_GATEWAY, ensure_dev_keypair
from devtools.simulators.sandbox import signed_headers
from payments.gateways import get_gateway
from payments.gateways.signing import load_private_key


class SandboxDriver:
    def __init__(self, settings):
        private_path, _ = ensure_dev_keypair(settings.KPAY_KEY_DIR, SANDBOX_GATEWAY)
        self.private_key = load_private_key(private_path)
        self.merchant_id = get_gateway("sandbox").merchant_id
        self.client = Client()

    def trade_event(
        self,
        payment,
        *,
        event_type="TRADE.SUCCESS",
        state="SUCCESS",
        event_id=None,
        amount=None,
        currency=None,
        merchant_id=None,
        transaction_id=None,
    ) -> bytes:
        event = {
            "id": event_id or f"EV{secrets.token_hex(8)}",
            "event_type": event_type,
            "create_time": timezone.now().isoformat(),
            "resource": {
                "merchant_id": merchant_id or self.merchant_id,
                "out_trade_no": payment.payment_no,
                "transaction_id": transaction_id or f"SBX{payment.payment_no}",
                "trade_state": state,
                "amount": {
                    "total": payment.amount if amount is None else amount,
                    "currency": currency or payment.currency,
                },
                "payer": {"id": "sbx_payer_test"},
                "success_time": timezone.now().isoformat() if state == "SUCCESS" else None,
            },
        }
        return json.dumps(event, separators=(",", ":")).encode()

    def headers(self, body: bytes, **overrides) -> dict:
        headers = signed_headers(self.private_key, body)
        headers.update(overrides)
        return {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}

    def post(self, body: bytes, headers: dict | None = None, alias: str = "sandbox"):
        return self.client.post(
            f"/payments/webhooks/{alias}/",
            data=body,
            content_type="application/json",
            **(headers if headers is not None else self.headers(body)),
        )

    def pay(self, payment, **event_kwargs):
        """Send the success notification for ``payment``; returns the webhook response."""
        return self.post(self.trade_event(payment, **event_kwargs))
