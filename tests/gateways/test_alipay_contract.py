"""The Alipay backend against its simulator, over real HTTP on loopback."""

import copy
import secrets
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.money import fen_to_yuan
from devtools.keys import ALIPAY_APP, ALIPAY_PLATFORM, ensure_dev_keypair
from payments.gateways.alipay.protocol import SHANGHAI
from payments.models import Payment
from tests.cashier import press
from tests.gateways.contract import GatewayContract
from tests.settings import CLOSED_LOOPBACK_URL

APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"


@pytest.fixture(autouse=True)
def alipay_configured(settings):
    """Configure the "alipay" gateway at the closed loopback URL, before
    ``live_simulators`` (which depends on ``settings`` too) repoints it at the live server."""
    gateways = copy.deepcopy(settings.KPAY_GATEWAYS)
    app_private, _ = ensure_dev_keypair(settings.KPAY_KEY_DIR, ALIPAY_APP)
    _, alipay_public = ensure_dev_keypair(settings.KPAY_KEY_DIR, ALIPAY_PLATFORM)
    gateways["alipay"] = {
        "BACKEND": "payments.gateways.alipay.AlipayGateway",
        "OPTIONS": {
            "app_id": APP_ID,
            "seller_id": SELLER_ID,
            "gateway_url": CLOSED_LOOPBACK_URL + "/simulators/alipay/gateway.do",
            "app_private_key_path": str(app_private),
            "alipay_public_key_path": str(alipay_public),
        },
    }
    settings.KPAY_GATEWAYS = gateways
    return gateways["alipay"]


def notify_fields(payment: Payment, **overrides) -> dict:
    """What the simulator fills into a TRADE_SUCCESS trade_status_sync for ``payment``."""
    fields = {
        "app_id": APP_ID,
        "seller_id": SELLER_ID,
        "trade_no": f"2026112422{secrets.randbelow(10**22):022d}",
        "out_trade_no": payment.payment_no,
        "buyer_id": "2088102177846880",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": fen_to_yuan(payment.amount),
        "receipt_amount": fen_to_yuan(payment.amount),
        "subject": "a course",
        "gmt_create": "2026-11-24 10:00:00",
        "gmt_payment": "2026-11-24 10:00:05",
    }
    fields.update(overrides)
    return fields


def signed_notify_body(payment: Payment, **overrides) -> bytes:
    from devtools.simulators.alipay.views import notify_body, signed_notify_params

    return notify_body(signed_notify_params(notify_fields(payment, **overrides)))


class TestAlipayGateway(GatewayContract):
    alias = "alipay"
    channel = "alipay_qr"

    def pay(self, payment):
        assert press(payment.action["code_url"], "pay").status_code == 200

    def signed_success_notification(self, payment):
        return signed_notify_body(payment), {}, "application/x-www-form-urlencoded"

    def put_on_yesterdays_bill(self, payment):
        from devtools.simulators.alipay.models import AlipayTrade

        yesterday = timezone.now() - timedelta(days=1)
        AlipayTrade.objects.filter(out_trade_no=payment.payment_no).update(gmt_payment=yesterday)
        return timezone.localtime(yesterday, SHANGHAI).date()

    def test_a_tampered_notification_changes_nothing(self, live_simulators, learner, course):
        """Overridden: Alipay's form carries yuan (total_amount=99.00), so the contract's
        replacement of the fen digits ("9900") would not find them; the same tamper is
        made on total_amount instead."""
        _order, payment = self.start(learner, course)
        body, headers, content_type = self.signed_success_notification(payment)
        yuan = fen_to_yuan(payment.amount).encode()
        tampered = body.replace(
            b"total_amount=" + yuan, b"total_amount=" + fen_to_yuan(payment.amount + 1).encode()
        )
        assert tampered != body

        response = Client().post(
            f"/payments/webhooks/{self.alias}/", data=tampered, content_type=content_type, **headers
        )

        assert response.status_code == 400 and response.content == b"fail"
        assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
