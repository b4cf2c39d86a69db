"""WeChat Pay v3 protocol details: signatures both ways, notifications, key modes,
H5 and JSAPI, bills, configuration, and interop with an independent implementation
(the ``wechatpayv3`` SDK, test-only)."""

import base64
import csv
import gzip
import hashlib
import io
import json
import secrets
import shutil
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3 import utils as sdk_utils

from core.money import fen_to_yuan, yuan_to_fen
from devtools.keys import ensure_dev_material
from devtools.simulators.http import parse_authorization
from devtools.simulators.wechatpay import views as simulator
from devtools.simulators.wechatpay.models import WxRefund, WxTrade
from orders.models import Order
from payments.exceptions import (
    ChannelUnavailable,
    GatewayRejected,
    GatewayUnavailable,
    InvalidNotification,
    InvalidResponse,
)
from payments.gateways import get_gateway
from payments.gateways.base import NotificationKind, PaymentRequest, RefundRequest, RefundState, TradeState
from payments.gateways.signing import load_public_key, sign_sha256_rsa, verify_sha256_rsa
from payments.gateways.wechatpay import WeChatPayGateway, protocol
from payments.models import GatewayEvent, Payment
from tests.gateways.contract import wait_for
from tests.gateways.test_wechatpay_contract import (
    APPID,
    MCHID,
    _wechatpay_configured,  # noqa: F401  (autouse: the gateway configured before live_simulators)
    configure_wechatpay,
    django_headers,
    press,
    success_notification,
    wechatpay_config,
)


def start(learner, course, channel="wechat_native"):
    from orders.services import order_checkout
    from payments.services import payment_start

    order = order_checkout(learner=learner, course_slug=course.slug).order
    return order, payment_start(learner=learner, order_no=order.order_no, channel=channel)


def payment_request(channel: str, **kwargs) -> PaymentRequest:
    fields = {
        "payment_no": f"P{secrets.token_hex(8).upper()}",
        "amount": 1990,
        "currency": "CNY",
        "description": "Python 入门",
        "channel": channel,
        "notify_url": "http://127.0.0.1:9/payments/webhooks/wechatpay/",
        "return_url": "http://127.0.0.1:9/orders/K1/result/",
        "expires_at": timezone.now() + timedelta(minutes=30),
    }
    return PaymentRequest(**{**fields, **kwargs})


def post_webhook(body: bytes, headers: dict):
    return Client().post(
        "/payments/webhooks/wechatpay/", data=body, content_type="application/json", **django_headers(headers)
    )


# -- signing vectors -----------------------------------------------------------------------------
# A test-only key, and the signature `openssl dgst -sha256 -sign key.pem msg | base64` gave
# for VECTOR_MESSAGE: an independent computation to check ours against.
FIXED_KEY_PEM = b"""-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDjDdXg7xnG89jS
9JvWmri3QTAef7bh2HFdsE03RKgmkEKny+/hvIBaKm5hbsLqLW6RnyYcAH5mqv29
LNvr75uYNY08wObYXK9vA8npMgYUI5TsrL/nG3Lsb7qC0E4E2/kAPeteUUIn0cPX
5UqBRdvEA7edejKC39cnNeoXIIUqERvLzYg/eMVyfYskKycSabFDeJ/9tEf8Jxz8
IaFu7JDmjaTRbkqSvA2ukwcgwkd6SDSRqGIWUZMdg6ZuJxjQNOgVA/Dbd3O7AIiN
88tJu4rIG3pTYCrVWdlpqUsWXb7Okz8PxosBTzU1w4gfyk6NSFuepaErKHXEX7DX
IIkyA0tjAgMBAAECggEAFA8+3BaDsn4Mo+aUdgtJUndh5u/lmmJi8aIH0GAycuW/
3c84rDrZJB4njlgYxFOrNxZWaZbpk+x7amEyNNAAcRwaFEn+mxLlNOuixQV0YAcc
uyQv+B0GtDjSw4ffvLIqd4kA6F5Jd/ciVEqfoHgpiFHDwRfwqntYKNCsk8p9uU+L
B+mJgAMGUqBJ2dGJUr9imhHBcHkmfRWKprJAcc6jiVnFlNsAIvoz4rgJG3fhTyrb
nWNjGwBNEpaBL+OG5mXt/DwA2RxKmIkmyW+UQ/p/gy33fWYFrLPbSwMbTBS2MPwD
GAnsAP9QT58wYdliSlzHn1XIZAEY/z7PXeDT4RgkEQKBgQD1J/3emVTsRvY5MWFD
Yqg/w2ktTnv7pwfQFQEoc9HLfw0No59QOWjftMIdY9NG2nmX2EnJ1nVLxEy5CVLB
76e6k5Q5kHI7t5KSMI7oanGiD03qxKgXjjWhC7zvdUMT8wWkn0nLEZs33v2qiOFK
4DEfd9/xRSBXsKtIWs+6q0t1dQKBgQDtGN17xk4DiuptWz/kBxdsqSno5ytBtfMv
tgJbRC/Yl/3aLgxNpj4Ycm+PpshpzsFQOQQFtOCbwhv3dRGV12gb/VMxt49bWSC0
uZvQO8A/qUM6scIb0spgkDioa8gQNb20b2GZsdVbj+tyi5oKrFYFDjcnG/7gbWEr
hy8JsDCqdwKBgBoSqMNV11xRp7opcEi0Y2R0qejxoen/t6r/sOHWf4d++aprrnPf
xzGTjdmGVmAAuFHX5PEcZ9kpBWfgf/a0QEhtjaQZoqyLN4FovKonN/KeYhEH3UC0
FSwNjYiCFiI3BHCfqD96neFxS9UpPZyy/0Zzf1OvoGLzHSRS1CjsMthJAoGBAJOh
Qu+6B4OPMO8MvViXzc8b+fuKTVXqHFVd6FO5vm0IHsmGmKSU2d9RCgQRXoL7eUUh
a06+VIjHsbBAlcWOTcX306CGYl4HviSp2cosGkXJeBII8wtuEhNUWeMM0ZK+U7QR
El2n7GjJ0VoOcMkqi5k0Q8U3WlmV4cY/s1s9+N97AoGAevKGAX9ee+CCBp61EYLT
/sacqAp5UeHadMlmVzks2USLbJYk/ceXWeixaI4FNsW+D7/ciK74n0n5FjblFHlG
4wY7LS4f3PaDVt+NFe98ddcD5SGHp3GjcViXDNWkFVhqU2HNZkshxYIXKIeFPcZS
cziJxzgxzI1rqSiyH7CKZBQ=
-----END PRIVATE KEY-----
"""
FIXED_KEY = serialization.load_pem_private_key(FIXED_KEY_PEM, password=None)
VECTOR_MESSAGE = (
    b"wxd930ea5d5a258f4f\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n"
    b"prepay_id=wx201410272009395522657a690389285100\n"
)
VECTOR_SIGNATURE = (
    "ZGJn4X5VZKM5aUD5kt7YP89m9wKUuvyldNih7FsCCgIaJqtpqHUl0Rp/+kEVCyrg+OvwqY55MUpmN5BB/LFzQ3ei"
    "CR4E7oTLrlXTG+/F8MDZWr56rRU0NTgDjaGEISHypE3vyS280hoDsSCRFtzg1uBbXBLd7FpY1gPHV9d14WgFncXe"
    "HxQYnB01ZACA58+ItPHTOk9gIko9hYQCCnRFitOOu1wTR454koUkr52Q9BU9KoKRjaapPCi9+BjParOfhgR6AEwI"
    "kjpdAqdh/VXLUv+x/uH+qrdz/p/cj6BaG09fg8FbETZby0eSLB+qtMQACBHg1NLY3Xux0E3puohIPA=="
)


def test_the_request_message_is_five_lines_each_ending_in_a_newline():
    message = protocol.request_message(
        "POST", "/v3/pay/transactions/native", "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", b'{"a":1}'
    )
    assert message == (
        b'POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{"a":1}\n'
    )
    assert protocol.response_message("1554208460", "N", b"") == b"1554208460\nN\n\n"
    assert protocol.jsapi_message("wx1", "1", "n", "prepay_id=p") == b"wx1\n1\nn\nprepay_id=p\n"


def test_the_authorization_header_verifies_independently():
    header = protocol.authorization(
        FIXED_KEY, mchid=MCHID, serial_no="ABC123", method="GET", url="/v3/certificates", body=b""
    )
    assert header.startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="')
    fields = parse_authorization(header, protocol.AUTH_SCHEME)
    assert fields["serial_no"] == "ABC123" and len(fields["nonce_str"]) == 32
    # Rebuilt by hand, verified with cryptography directly.
    message = f"GET\n/v3/certificates\n{fields['timestamp']}\n{fields['nonce_str']}\n\n".encode()
    FIXED_KEY.public_key().verify(
        base64.b64decode(fields["signature"]), message, padding.PKCS1v15(), hashes.SHA256()
    )


def test_sha256withrsa_matches_an_independent_computation():
    ours = sign_sha256_rsa(FIXED_KEY, VECTOR_MESSAGE)
    assert ours == VECTOR_SIGNATURE  # PKCS#1 v1.5 is deterministic
    assert ours == sdk_utils.rsa_sign(FIXED_KEY, VECTOR_MESSAGE.decode())
    FIXED_KEY.public_key().verify(base64.b64decode(ours), VECTOR_MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    assert not verify_sha256_rsa(FIXED_KEY.public_key(), VECTOR_MESSAGE + b"x", ours)
    # The JSAPI paySign message is exactly this layout.
    assert (
        protocol.jsapi_message(
            "wxd930ea5d5a258f4f",
            "1554208460",
            "593BEC0C930BF1AFEB40B4A08C8FB242",
            "prepay_id=wx201410272009395522657a690389285100",
        )
        == VECTOR_MESSAGE
    )


def test_aead_resource_round_trip_and_tamper():
    key = "a" * 32
    resource = protocol.aead_encrypt(key, b'{"x":1}', associated_data="transaction")
    assert protocol.aead_decrypt(key, resource) == b'{"x":1}'
    # The SDK's independent decryption agrees.
    assert sdk_utils.aes_decrypt(resource["nonce"], resource["ciphertext"], "transaction", key) == '{"x":1}'
    with pytest.raises(ValueError):
        protocol.aead_decrypt(key, {**resource, "associated_data": "refund"})
    with pytest.raises(ValueError):
        protocol.aead_decrypt("b" * 32, resource)


@given(st.integers(min_value=0, max_value=10**13))
def test_fen_and_yuan_round_trip(fen):
    yuan = fen_to_yuan(fen)
    assert yuan.count(".") == 1 and len(yuan.split(".")[1]) == 2
    assert yuan_to_fen(yuan) == fen
    assert yuan_to_fen(("`" + yuan).lstrip("`")) == fen


def test_sub_fen_yuan_is_refused():
    with pytest.raises(ValueError):
        yuan_to_fen("0.001")


# -- configuration ---------------------------------------------------------------------------
def test_check_options_the_development_configuration_is_complete(settings):
    """Development points at key files (made by devtools) through production's options."""
    options = wechatpay_config(settings)["OPTIONS"]
    assert WeChatPayGateway.check_options(options) == []
    problems = WeChatPayGateway.check_options({"api_base": options["api_base"]})
    assert problems == [
        "option 'mchid' is required.",
        "option 'appid' is required.",
        "option 'apiv3_key' is required.",
        "option 'private_key_path' is required.",
        "option 'cert_serial_no' is required.",
        "WeChat Pay's key is missing: give 'public_key_path' and 'public_key_id' "
        "(PUB_KEY_ID_…), or 'platform_cert_dir' (platform certificates).",
    ]
    missing = WeChatPayGateway.check_options({**options, "apiv3_key_path": str(gateway_dir() / "none")})
    assert any("'apiv3_key_path': no file" in p for p in missing)


def test_check_options_refuses_development_keys_in_production(settings):
    from django.core.checks import run_checks

    configure_wechatpay(settings, wechatpay_config(settings, api_base=protocol.REAL_API_BASE))
    assert not [e for e in run_checks() if e.id == "kpay.E008"]  # development: fine
    settings.KPAY_ENV = "production"
    errors = [e.msg for e in run_checks() if e.id == "kpay.E008" and "'wechatpay'" in e.msg]
    assert any("simulators only" in msg and "'private_key_path'" in msg for msg in errors)
    assert any("'public_key_path'" in msg for msg in errors) and any(
        "'apiv3_key_path'" in msg for msg in errors
    )


def test_check_options_half_a_production_configuration(tmp_path):
    key = tmp_path / "apiclient_key.pem"
    key.write_text("x")
    base = {"mchid": "1", "appid": "wx"}  # api_base defaults to the real host
    problems = WeChatPayGateway.check_options(base)
    assert "option 'apiv3_key' is required." in problems
    assert "option 'private_key_path' is required." in problems
    assert any("WeChat Pay's key is missing" in p for p in problems)

    full = {**base, "apiv3_key": "k" * 32, "private_key_path": str(key), "cert_serial_no": "ABC"}
    assert WeChatPayGateway.check_options({**full, "platform_cert_dir": str(tmp_path)}) == []
    pub = tmp_path / "pub_key.pem"
    pub.write_text("x")
    assert (
        WeChatPayGateway.check_options({**full, "public_key_path": str(pub), "public_key_id": "PUB_KEY_ID_1"})
        == []
    )
    assert any("32-byte" in p for p in WeChatPayGateway.check_options({**full, "apiv3_key": "short"}))
    assert any(
        "go together" in p for p in WeChatPayGateway.check_options({**full, "public_key_path": str(pub)})
    )
    assert any(
        "no file" in p
        for p in WeChatPayGateway.check_options({**full, "private_key_path": str(tmp_path / "no")})
    )


# -- responses ---------------------------------------------------------------------------------
def _mocked(gateway, handler):
    gateway._client = httpx.Client(transport=httpx.MockTransport(handler))
    return gateway


def _trade_json(no):
    return {
        "appid": APPID,
        "mchid": MCHID,
        "out_trade_no": no,
        "trade_state": "NOTPAY",
        "amount": {"total": 1},
    }


@pytest.mark.django_db
class TestResponses:
    def gateway(self, handler):
        return _mocked(get_gateway("wechatpay"), handler)

    def signed(self, status=200, data=None, **header_changes):
        body = b"" if data is None else protocol.dumps(data)
        headers = {**simulator.sign_headers(body), **header_changes}
        return httpx.Response(status, content=body, headers=headers)

    def test_a_signed_answer_is_accepted(self):
        gateway = self.gateway(lambda request: self.signed(data=_trade_json("P1")))
        assert gateway.query_payment("P1").state == TradeState.PENDING

    def test_an_unsigned_answer_is_invalid(self):
        gateway = self.gateway(lambda request: httpx.Response(200, json=_trade_json("P1")))
        with pytest.raises(InvalidResponse):
            gateway.query_payment("P1")

    def test_a_badly_signed_answer_is_invalid(self):
        def handler(request):
            response = self.signed(data=_trade_json("P1"))
            return httpx.Response(
                200, content=response.content.replace(b"NOTPAY", b"SUCCESS"), headers=response.headers
            )

        with pytest.raises(InvalidResponse):
            self.gateway(handler).query_payment("P1")

    def test_an_unsigned_204_is_invalid_and_a_signed_one_fine(self):
        with pytest.raises(InvalidResponse):
            self.gateway(lambda request: httpx.Response(204)).close_payment("P1")
        self.gateway(lambda request: self.signed(status=204)).close_payment("P1")

    def test_a_stale_answer_is_invalid(self):
        stale = str(int(time.time()) - 301)
        body = protocol.dumps(_trade_json("P1"))
        key = simulator.keys()["pubkey"]
        headers = {
            **simulator.sign_headers(body),
            "Wechatpay-Timestamp": stale,
            "Wechatpay-Signature": sign_sha256_rsa(key, protocol.response_message(stale, "N", body)),
            "Wechatpay-Nonce": "N",
        }
        gateway = self.gateway(lambda request: httpx.Response(200, content=body, headers=headers))
        with pytest.raises(InvalidResponse, match="stale"):
            gateway.query_payment("P1")

    def test_a_signature_by_an_unknown_key_serial_is_invalid(self):
        gateway = self.gateway(
            lambda request: self.signed(data=_trade_json("P1"), **{"Wechatpay-Serial": "PUB_KEY_ID_X"})
        )
        with pytest.raises(InvalidResponse, match="unknown key"):
            gateway.query_payment("P1")

    def test_errors_are_mapped(self):
        def error(status, code, message="msg"):
            return lambda request: httpx.Response(status, json={"code": code, "message": message})

        assert self.gateway(error(404, "ORDER_NOT_EXIST")).query_payment("P1").state == TradeState.NOT_FOUND
        with pytest.raises(GatewayUnavailable):
            self.gateway(error(500, "SYSTEM_ERROR")).query_payment("P1")
        with pytest.raises(GatewayRejected) as rejected:
            self.gateway(error(400, "PARAM_ERROR", "amount.total 格式错误")).refund(
                RefundRequest(
                    refund_no="R1",
                    payment_no="P1",
                    gateway_txn_id="",
                    amount=1,
                    total=1,
                    currency="CNY",
                    reason="r",
                    notify_url="",
                )
            )
        assert (
            rejected.value.message == "amount.total 格式错误" and rejected.value.gateway_code == "PARAM_ERROR"
        )

    def test_a_bill_whose_sha1_does_not_match_is_invalid(self):
        csv_bytes = "交易时间\r\n`2026-01-01 10:00:00\r\n".encode()

        def handler(request):
            if request.url.path.endswith("/v3/bill/tradebill"):
                download_url = "http://127.0.0.1:9/simulators/wechatpay/v3/billdownload/file?token=t"
                return self.signed(
                    data={"hash_type": "SHA1", "hash_value": "0" * 40, "download_url": download_url}
                )
            return httpx.Response(200, content=gzip.compress(csv_bytes))

        into = io.BytesIO()
        with pytest.raises(InvalidResponse, match="SHA1"):
            self.gateway(handler).fetch_bill(timezone.now().date(), into)
        assert into.getvalue() == gzip.compress(csv_bytes)  # streamed as delivered, still gzip

    def test_a_truncated_gzip_bill_is_invalid(self):
        csv_bytes = "交易时间\r\n`2026-01-01 10:00:00\r\n".encode() * 100

        def handler(request):
            if request.url.path.endswith("/v3/bill/tradebill"):
                download_url = "http://127.0.0.1:9/simulators/wechatpay/v3/billdownload/file?token=t"
                digest = hashlib.sha1(csv_bytes, usedforsecurity=False).hexdigest()
                return self.signed(
                    data={"hash_type": "SHA1", "hash_value": digest, "download_url": download_url}
                )
            return httpx.Response(200, content=gzip.compress(csv_bytes)[:-20])

        with pytest.raises(InvalidResponse, match="gzip"):
            self.gateway(handler).fetch_bill(timezone.now().date(), io.BytesIO())

    def test_requests_are_signed_with_the_path_wechat_sees(self):
        seen = {}

        def handler(request):
            seen["auth"] = parse_authorization(request.headers["Authorization"], protocol.AUTH_SCHEME)
            seen["serial"] = request.headers.get("Wechatpay-Serial")
            seen["raw"] = request.url.raw_path.decode()
            return self.signed(data=_trade_json("P1"))

        gateway = self.gateway(handler)
        gateway.query_payment("P1")
        assert seen["raw"] == "/simulators/wechatpay/v3/pay/transactions/out-trade-no/P1?mchid=1900000109"
        message = protocol.request_message(
            "GET",
            "/v3/pay/transactions/out-trade-no/P1?mchid=1900000109",
            seen["auth"]["timestamp"],
            seen["auth"]["nonce_str"],
            b"",
        )
        merchant_public = load_public_key(ensure_dev_material(gateway_dir()).merchant_public_path)
        assert verify_sha256_rsa(merchant_public, message, seen["auth"]["signature"])
        assert seen["serial"] == gateway.public_key_id


def gateway_dir():
    from django.conf import settings

    return settings.KPAY_KEY_DIR


# -- the simulator's side of signatures ------------------------------------------------------
def test_a_wrongly_signed_request_gets_401_sign_error(live_simulators):
    url = f"{live_simulators.url}/simulators/wechatpay/v3/pay/transactions/out-trade-no/P1?mchid={MCHID}"
    material = ensure_dev_material(gateway_dir())
    header = protocol.authorization(
        FIXED_KEY, mchid=MCHID, serial_no=material.cert_serial_no, method="GET", url=url, body=b""
    )
    response = httpx.get(url, headers={"Authorization": header})
    assert response.status_code == 401 and response.json()["code"] == "SIGN_ERROR"
    assert httpx.get(url).status_code == 401


# -- notifications through the webhook ---------------------------------------------------------
@pytest.mark.django_db(transaction=True)
class TestNotifications:
    def test_a_stale_notification_changes_nothing(self, live_simulators, learner, course):
        _order, payment = start(learner, course)
        body, headers = success_notification(payment)
        stale = str(int(time.time()) - 300)
        key = simulator.keys()["pubkey"]
        headers.update(
            {
                "Wechatpay-Timestamp": stale,
                "Wechatpay-Signature": sign_sha256_rsa(
                    key, protocol.response_message(stale, headers["Wechatpay-Nonce"], body)
                ),
            }
        )
        response = post_webhook(body, headers)
        assert response.status_code == 400 and json.loads(response.content)["code"] == "FAIL"
        assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
        assert not GatewayEvent.objects.exists()

    def test_a_signature_probe_is_rejected(self, live_simulators, learner, course):
        _order, payment = start(learner, course)
        body, headers = success_notification(payment)
        headers["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]
        assert post_webhook(body, headers).status_code == 400
        assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING

    @pytest.mark.parametrize("changes", [{"mchid": "1900000999"}, {"appid": "wx0000000000000000"}])
    def test_another_merchants_notification_is_flagged_and_pays_nothing(
        self, live_simulators, learner, course, changes
    ):
        order, payment = start(learner, course)
        body, headers = success_notification(payment, **changes)
        assert post_webhook(body, headers).status_code == 400
        payment.refresh_from_db()
        assert payment.status == Payment.Status.PENDING and "not ours" in payment.flag
        assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT
        assert GatewayEvent.objects.get().outcome == GatewayEvent.Outcome.MISMATCH

    def test_a_wrong_amount_is_flagged_and_pays_nothing(self, live_simulators, learner, course):
        order, payment = start(learner, course)
        body, headers = success_notification(payment, total=payment.amount - 1)
        assert post_webhook(body, headers).status_code == 400
        payment.refresh_from_db()
        assert payment.status == Payment.Status.PENDING and "amount" in payment.flag
        assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT

    def test_a_resource_not_encrypted_with_our_apiv3_key_is_rejected(self, live_simulators, learner, course):
        _order, payment = start(learner, course)
        body, _ = success_notification(payment)
        event = json.loads(body)
        event["resource"] = {
            "original_type": "transaction",
            **protocol.aead_encrypt("x" * 32, b"{}", associated_data="transaction"),
        }
        forged = protocol.dumps(event)
        assert post_webhook(forged, simulator.sign_headers(forged)).status_code == 400

    def test_the_notification_is_stored_decrypted_and_duplicates_change_nothing(
        self, live_simulators, learner, course
    ):
        order, payment = start(learner, course)
        body, headers = success_notification(payment)
        assert post_webhook(body, headers).status_code == 204
        assert post_webhook(body, simulator.sign_headers(body)).status_code == 204
        event = GatewayEvent.objects.get()
        assert event.payload["resource"]["out_trade_no"] == payment.payment_no
        assert "ciphertext" not in json.dumps(event.payload)
        assert Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED

    def test_a_refund_notification_is_parsed(self, live_simulators, learner, course):
        order, payment = start(learner, course)
        press(payment.action["redirect_url"], "pay")
        assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)
        gateway = get_gateway("wechatpay")
        gateway.refund(
            RefundRequest(
                refund_no="R" + secrets.token_hex(6),
                payment_no=payment.payment_no,
                gateway_txn_id="",
                amount=300,
                total=payment.amount,
                currency="CNY",
                reason="test",
                notify_url="",
            )
        )
        refund = WxRefund.objects.get()
        body = simulator.notification_body("REFUND.SUCCESS", simulator.refund_plaintext(refund))
        notification = gateway.parse_notification(simulator.sign_headers(body), body)
        assert notification.kind == NotificationKind.REFUND
        assert (notification.trade_no, notification.refund_no) == (payment.payment_no, refund.out_refund_no)
        assert (notification.state, notification.amount, notification.currency) == (
            RefundState.SUCCEEDED,
            300,
            "CNY",
        )
        assert dict(notification.merchant_ids) == dict(gateway.merchant_ids)

    def test_garbage_is_an_invalid_notification(self, live_simulators):
        with pytest.raises(InvalidNotification):
            get_gateway("wechatpay").parse_notification({}, b"{}")
        body = b'{"id":"x"}'
        with pytest.raises(InvalidNotification):
            get_gateway("wechatpay").parse_notification(simulator.sign_headers(body), body)


# -- channels ------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
class TestChannels:
    def test_h5_needs_the_client_ip_and_redirects_to_h5_url(self, live_simulators):
        gateway = get_gateway("wechatpay")
        with pytest.raises(ChannelUnavailable):
            gateway.create_payment(payment_request("wechat_h5"))
        request = payment_request("wechat_h5", client_ip="203.0.113.7")
        action = gateway.create_payment(request)
        assert (
            action.kind == "redirect"
            and "redirect_url=http%3A%2F%2F127.0.0.1%3A9%2Forders" in action.redirect_url
        )
        trade = WxTrade.objects.get(out_trade_no=request.payment_no)
        assert trade.trade_type == "MWEB" and trade.payer_client_ip == "203.0.113.7"
        assert trade.request_body["scene_info"]["h5_info"] == {"type": "Wap"}
        assert press(action.redirect_url, "pay").status_code == 200
        status = gateway.query_payment(request.payment_no)
        assert status.state == TradeState.SUCCEEDED and status.amount == 1990

    def test_jsapi_gives_signed_bridge_parameters(self, live_simulators):
        gateway = get_gateway("wechatpay")
        with pytest.raises(ChannelUnavailable):
            gateway.create_payment(payment_request("wechat_jsapi"))
        request = payment_request("wechat_jsapi", payer_id="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
        params = gateway.create_payment(request).client_params
        trade = WxTrade.objects.get(out_trade_no=request.payment_no)
        assert params["package"] == f"prepay_id={trade.prepay_id}" and params["signType"] == "RSA"
        assert params["appId"] == APPID
        message = f"{APPID}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
        merchant_public = load_public_key(ensure_dev_material(gateway_dir()).merchant_public_path)
        assert verify_sha256_rsa(merchant_public, message, params["paySign"])
        # The SDK's own JSAPI signing gives the same signature.
        sdk = sdk_client(live_simulators.url)
        assert (
            sdk.sign([APPID, params["timeStamp"], params["nonceStr"], params["package"]]) == params["paySign"]
        )
        # The payer is the openid we sent.
        simulator.cashier_act(trade.pk, "pay")
        assert gateway.query_payment(request.payment_no).payer_id == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"

    def test_the_same_trade_number_needs_the_same_parameters(self, live_simulators):
        gateway = get_gateway("wechatpay")
        request = payment_request("wechat_native")
        first = gateway.create_payment(request)
        assert gateway.create_payment(request).code_url == first.code_url
        with pytest.raises(GatewayRejected) as rejected:
            gateway.create_payment(payment_request("wechat_native", payment_no=request.payment_no, amount=1))
        assert rejected.value.gateway_code == "INVALID_REQUEST"

    def test_a_declined_payment_is_failed_by_query(self, live_simulators):
        gateway = get_gateway("wechatpay")
        request = payment_request("wechat_native")
        action = gateway.create_payment(request)
        press(action.redirect_url, "decline")
        assert gateway.query_payment(request.payment_no).state == TradeState.FAILED


# -- key modes ----------------------------------------------------------------------------------
def cert_mode_options(cert_dir: Path, live_url: str) -> dict:
    material = ensure_dev_material(gateway_dir())
    return {
        "mchid": MCHID,
        "appid": APPID,
        "api_base": live_url + "/simulators/wechatpay",
        "apiv3_key": material.apiv3_key,
        "private_key_path": str(material.merchant_private_path),
        "cert_serial_no": material.cert_serial_no,
        "platform_cert_dir": str(cert_dir),
    }


@pytest.mark.django_db(transaction=True)
class TestPlatformCertificateMode:
    def test_certificates_are_downloaded_decrypted_and_kept(self, live_simulators, tmp_path):
        options = cert_mode_options(tmp_path, live_simulators.url)
        assert WeChatPayGateway.check_options(options) == []
        gateway = WeChatPayGateway("wechatpay", **options)
        assert gateway.query_payment("P00000000001").state == TradeState.NOT_FOUND  # a 404 needs no key
        request = payment_request("wechat_native")
        gateway.create_payment(request)  # unknown serial: fetches /v3/certificates, then verifies
        serial = ensure_dev_material(gateway_dir()).platform_serial
        assert (tmp_path / f"{serial}.pem").exists()
        again = WeChatPayGateway("wechatpay", **options)  # from the folder, no download
        assert again.query_payment(request.payment_no).state == TradeState.PENDING

    def test_the_whole_payment_in_certificate_mode(
        self, live_simulators, settings, tmp_path, learner, course
    ):
        material = ensure_dev_material(gateway_dir())
        shutil.copy(material.platform_cert_path, tmp_path / f"{material.platform_serial}.pem")
        configure_wechatpay(
            settings,
            {
                "BACKEND": "payments.gateways.wechatpay.WeChatPayGateway",
                "OPTIONS": cert_mode_options(tmp_path, live_simulators.url),
            },
        )
        gateway = get_gateway("wechatpay")
        assert gateway.public_key_id == ""
        order, payment = start(learner, course)
        assert WxTrade.objects.get(out_trade_no=payment.payment_no).key_mode == "cert"
        assert payment.action["redirect_url"] == ""  # real keys: no simulator cashier offered
        token = payment.action["code_url"].removeprefix("weixin://wxpay/bizpayurl?pr=")
        assert press(f"{live_simulators.url}/simulators/wechatpay/pay/{token}/", "pay").status_code == 200
        assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)
        # A notification signed in public-key mode is not for this merchant's keys.
        body, headers = success_notification(payment)
        headers = simulator.sign_headers(body, "pubkey")
        with pytest.raises(InvalidNotification):
            gateway.parse_notification(headers, body)

    def test_public_key_mode_rejects_a_certificate_signature(self, live_simulators, learner, course):
        _order, payment = start(learner, course)
        body, _ = success_notification(payment)
        with pytest.raises(InvalidNotification, match="unknown key serial"):
            get_gateway("wechatpay").parse_notification(simulator.sign_headers(body, "cert"), body)


# -- bills ----------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_trade_bill_has_the_real_format(live_simulators, learner, course):
    order, payment = start(learner, course)
    press(payment.action["redirect_url"], "pay")
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)
    gateway = get_gateway("wechatpay")
    gateway.refund(
        RefundRequest(
            refund_no="RB1",
            payment_no=payment.payment_no,
            gateway_txn_id="",
            amount=990,
            total=payment.amount,
            currency="CNY",
            reason="bill test",
            notify_url="",
        )
    )
    today = timezone.now().astimezone(protocol.BEIJING).date()
    into = io.BytesIO()
    bill = gateway.fetch_bill(today, into)
    payment.refresh_from_db()

    assert bill.size == len(into.getvalue()) and into.getvalue()[:2] == b"\x1f\x8b"  # kept gzip
    content = gzip.decompress(into.getvalue())
    lines = content.decode().splitlines()
    header = lines[0].split(",")
    assert len(header) == 27 and header[0] == "交易时间" and header[-1] == "费率备注"
    rows = [dict(zip(header, row, strict=True)) for row in csv.reader(io.StringIO("\n".join(lines[1:3])))]
    assert all(value.startswith("`") for row in rows for value in row.values())
    paid = next(r for r in rows if r["交易状态"] == "`SUCCESS")
    refunded = next(r for r in rows if r["交易状态"] == "`REFUND")
    assert (
        paid["商户订单号"] == f"`{payment.payment_no}" and paid["微信订单号"] == f"`{payment.gateway_txn_id}"
    )
    assert yuan_to_fen(paid["应结订单金额"].lstrip("`")) == payment.amount == 9900
    assert yuan_to_fen(refunded["退款金额"].lstrip("`")) == 990 and refunded["商户退款单号"] == "`RB1"
    assert lines[3].split(",")[0] == "总交易单数"
    summary = dict(zip(lines[3].split(","), lines[4].split(","), strict=True))
    assert summary["总交易单数"] == "`2" and summary["退款总金额"] == "`9.90"
    # The reader gives the same facts, in fen.
    into.seek(0)
    reader = gateway.read_bill(into)
    read = {line.kind: line for line in reader}
    assert (read["payment"].trade_no, read["payment"].amount, read["payment"].fee) == (
        payment.payment_no,
        9900,
        59,
    )
    assert (read["refund"].refund_no, read["refund"].amount, read["refund"].fee) == ("RB1", 990, -6)
    assert reader.summary.lines == 2 and reader.summary.refunds_total == 990
    # The SUCCESS variant drops the refund columns: readers go by header name.
    success_bill = simulator.trade_bill(MCHID, today, "SUCCESS").decode().splitlines()
    assert len(success_bill[0].split(",")) == 20 and "退款金额" not in success_bill[0].split(",")
    # A day without trades has no bill: an empty one, nothing written.
    empty = io.BytesIO()
    assert gateway.fetch_bill(today - timedelta(days=3), empty).empty and empty.getvalue() == b""


# -- interop with the wechatpayv3 SDK --------------------------------------------------------------
def sdk_client(live_url: str, *, public_key_mode: bool = True) -> "WeChatPay":
    """The SDK in public-key mode (its constructor then makes no network call), pointed at
    the simulator through its private ``_gate_way`` (it has no public option for that)."""
    material = ensure_dev_material(gateway_dir())
    client = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=MCHID,
        private_key=material.merchant_private_path.read_text(),
        cert_serial_no=material.cert_serial_no,
        appid=APPID,
        apiv3_key=material.apiv3_key,
        notify_url="http://127.0.0.1:9/payments/webhooks/wechatpay/",
        public_key=material.pubkey_public_path.read_text(),
        public_key_id=material.public_key_id,
        timeout=(5, 10),
    )
    client._core._gate_way = live_url + "/simulators/wechatpay"
    return client


@pytest.mark.django_db(transaction=True)
class TestSDKInterop:
    def test_the_sdk_talks_to_the_simulator_both_ways_verified(self, live_simulators):
        """The SDK signs requests its way (the simulator must accept them) and verifies
        every 2xx answer, the 204 of close included (it raises if a signature fails)."""
        sdk = sdk_client(live_simulators.url)
        no = f"SDK{secrets.token_hex(6)}"
        code, message = sdk.pay(description="SDK 订单", out_trade_no=no, amount={"total": 1})
        assert code == 200 and json.loads(message)["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
        code, message = sdk.query(out_trade_no=no)
        assert code == 200 and json.loads(message)["trade_state"] == "NOTPAY"
        code, _ = sdk.close(out_trade_no=no)
        assert code == 204
        # And our own client reads what the SDK created.
        assert get_gateway("wechatpay").query_payment(no).state == TradeState.CLOSED

    def test_the_sdk_decrypts_and_verifies_the_simulators_notification(
        self, live_simulators, learner, course
    ):
        _order, payment = start(learner, course)
        body, headers = success_notification(payment)
        result = sdk_client(live_simulators.url).callback(headers, body)
        assert result["event_type"] == "TRANSACTION.SUCCESS"
        assert result["resource"]["out_trade_no"] == payment.payment_no
        assert result["resource"]["amount"]["total"] == payment.amount
        tampered = body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESX"')
        assert sdk_client(live_simulators.url).callback(headers, tampered) is None

    def test_the_sdk_downloads_and_decrypts_the_simulators_certificates(self, live_simulators):
        sdk = sdk_client(live_simulators.url)
        sdk._core._update_certificates()
        serials = [format(c.serial_number, "X") for c in sdk._core._certificates]
        assert serials == [ensure_dev_material(gateway_dir()).platform_serial]

    def test_our_client_accepts_what_the_sdks_conventions_produce(self, live_simulators, learner, course):
        """A notification signed with the SDK's primitive over the SDK's message layout,
        a body serialized the SDK's way (json.dumps defaults, ASCII escapes)."""
        _order, payment = start(learner, course)
        body, _ = success_notification(payment)
        event = json.loads(body)
        sdk_style = json.dumps(event).encode()  # ", " and ": " separators, \\u escapes
        timestamp, nonce = str(int(time.time())), "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
        signature = sdk_utils.rsa_sign(
            simulator.keys()["pubkey"], f"{timestamp}\n{nonce}\n{sdk_style.decode()}\n"
        )
        headers = {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": ensure_dev_material(gateway_dir()).public_key_id,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }
        notification = get_gateway("wechatpay").parse_notification(headers, sdk_style)
        assert notification.trade_no == payment.payment_no and notification.amount == payment.amount
        # The SDK's request signature is accepted by the simulator (as in the first test),
        # and the SDK accepts our signature convention too:
        assert sdk_utils.rsa_verify(
            headers["Wechatpay-Timestamp"],
            nonce,
            sdk_style.decode(),
            signature,
            load_public_key(ensure_dev_material(gateway_dir()).pubkey_public_path),
        )


def test_half_a_configuration_is_a_system_check_error(settings):
    from payments.checks import check_gateways

    assert not [e for e in check_gateways() if "wechatpay" in e.msg]  # the development configuration
    configure_wechatpay(
        settings,
        {
            "BACKEND": "payments.gateways.wechatpay.WeChatPayGateway",
            "OPTIONS": {"mchid": MCHID, "appid": APPID},
        },
    )
    errors = [e for e in check_gateways() if "wechatpay" in e.msg]
    assert {e.id for e in errors} == {"kpay.E005", "kpay.W002"}  # W002: no AppSecret for JSAPI's openid
    assert any("'apiv3_key' is required" in e.msg for e in errors)
    assert any("WeChat Pay's key is missing" in e.msg for e in errors)
