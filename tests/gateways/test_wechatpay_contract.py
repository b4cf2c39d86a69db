"""The WeChat Pay v3 backend against its simulator, over real HTTP on loopback."""

import copy
import secrets
from datetime import timedelta

import pytest
from django.utils import timezone

from devtools.keys import ensure_dev_material
from devtools.simulators.wechatpay import views as simulator
from devtools.simulators.wechatpay.models import WxTrade
from payments.gateways import get_gateway
from payments.gateways.wechatpay import protocol
from tests.cashier import press
from tests.gateways.contract import GatewayContract
from tests.settings import CLOSED_LOOPBACK_URL

MCHID = "1900000109"
APPID = "wxd930ea5d5a258f4f"


def wechatpay_config(settings, **options) -> dict:
    """The dev configuration (the simulator), as kpay/settings.py will have it."""
    material = ensure_dev_material(settings.KPAY_KEY_DIR)
    return {
        "BACKEND": "devtools.simulators.wechatpay.gateway.SimulatorWeChatPayGateway",
        "OPTIONS": {
            "mchid": MCHID,
            "appid": APPID,
            "api_base": CLOSED_LOOPBACK_URL + "/simulators/wechatpay",
            "apiv3_key_path": str(material.apiv3_key_path),
            "private_key_path": str(material.merchant_private_path),
            "cert_serial_no": material.cert_serial_no,
            "public_key_path": str(material.pubkey_public_path),
            "public_key_id": material.public_key_id,
            "mp_app_secret_path": str(material.mp_app_secret_path),
            "oauth_authorize_base": CLOSED_LOOPBACK_URL + "/simulators/wechatpay/open",
            "sns_api_base": CLOSED_LOOPBACK_URL + "/simulators/wechatpay/api",
            **options,
        },
    }


def configure_wechatpay(settings, config: dict) -> None:
    gateways = copy.deepcopy(settings.KPAY_GATEWAYS)
    gateways["wechatpay"] = config
    settings.KPAY_GATEWAYS = gateways


@pytest.fixture(autouse=True)
def _wechatpay_configured(settings):
    """Autouse, so it runs before ``live_simulators`` rewrites the closed loopback URL."""
    configure_wechatpay(settings, wechatpay_config(settings))


def success_notification(payment, *, event_id=None, **changes) -> tuple[bytes, dict]:
    """The TRANSACTION.SUCCESS the simulator would send for ``payment``, built by the
    simulator's own functions; ``changes`` alter the trade's plaintext (amount, mchid …)."""
    trade = WxTrade.objects.get(out_trade_no=payment.payment_no)
    trade.state = WxTrade.State.SUCCESS
    trade.success_time = timezone.now()
    trade.transaction_id = f"4200{secrets.randbelow(10**24):024d}"
    trade.payer_openid = trade.payer_openid or "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    plaintext = simulator.transaction_plaintext(trade)  # not saved: the simulator's books stay unpaid
    for key, value in changes.items():
        if key in ("total", "currency"):
            plaintext["amount"][key] = value
        else:
            plaintext[key] = value
    body = simulator.notification_body("TRANSACTION.SUCCESS", plaintext, event_id=event_id)
    return body, simulator.sign_headers(body, trade.key_mode)


def django_headers(headers: dict) -> dict:
    return {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}


class TestWeChatPayGateway(GatewayContract):
    alias = "wechatpay"
    channel = "wechat_native"

    def pay(self, payment):
        action = payment.action
        assert action["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
        assert press(action["redirect_url"], "pay").status_code == 200

    def signed_success_notification(self, payment):
        # WeChat carries the amount only inside the encrypted resource; the event id
        # carries it too here, so the contract's tampering (replace the amount's first
        # occurrence) changes signed bytes, as any tampering would.
        body, headers = success_notification(payment, event_id=f"EV{payment.amount}-{secrets.token_hex(8)}")
        return body, django_headers(headers), "application/json"

    def put_on_yesterdays_bill(self, payment):
        yesterday = timezone.now() - timedelta(days=1)
        WxTrade.objects.filter(out_trade_no=payment.payment_no).update(success_time=yesterday)
        return timezone.localtime(yesterday, protocol.BEIJING).date()

    def test_the_gateway_is_configured_as_in_development(self, live_simulators):
        gateway = get_gateway(self.alias)
        assert dict(gateway.merchant_ids) == {"mchid": MCHID, "appid": APPID}
        assert gateway.public_key_id.startswith("PUB_KEY_ID_")
