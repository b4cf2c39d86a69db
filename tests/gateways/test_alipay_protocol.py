"""Alipay protocol details: sign strings, exact-text response signatures, amounts,
notification checks through the webhook, page/wap redirects, bills, and interop with
the independent ``python-alipay-sdk`` (test-only)."""

import io
import json
import secrets
import zipfile
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from alipay import AliPay
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from core.money import fen_to_yuan, yuan_to_fen
from devtools.keys import ALIPAY_APP, ALIPAY_PLATFORM, ensure_dev_keypair
from devtools.simulators.alipay import protocol as simulator_protocol
from orders.models import Order
from payments.exceptions import GatewayRejected, InvalidNotification, InvalidResponse
from payments.gateways import get_gateway
from payments.gateways.alipay import AlipayGateway, protocol
from payments.gateways.base import NotificationKind, RefundState, TradeState
from payments.gateways.signing import load_private_key, load_public_key
from payments.models import Payment
from tests.gateways.contract import wait_for
from tests.gateways.test_alipay_contract import (  # noqa: F401 (alipay_configured is an autouse fixture)
    APP_ID,
    SELLER_ID,
    alipay_configured,
    notify_fields,
    press,
    signed_notify_body,
)

pytestmark = pytest.mark.timeout(60)


def _keys(settings):
    app_private, app_public = ensure_dev_keypair(settings.KPAY_KEY_DIR, ALIPAY_APP)
    alipay_private, alipay_public = ensure_dev_keypair(settings.KPAY_KEY_DIR, ALIPAY_PLATFORM)
    return app_private, app_public, alipay_private, alipay_public


def _start(learner, course, channel="alipay_qr"):
    from orders.services import order_checkout
    from payments.services import payment_start

    order = order_checkout(learner=learner, course_slug=course.slug).order
    return order, payment_start(learner=learner, order_no=order.order_no, channel=channel)


# -- sign strings ---------------------------------------------------------------------
REQUEST_PARAMS = {
    "app_id": "2021000000000001",
    "method": "alipay.trade.query",
    "format": "JSON",
    "charset": "utf-8",
    "sign_type": "RSA2",
    "timestamp": "2026-11-24 18:00:00",
    "version": "1.0",
    "notify_url": "http://kpay.example/payments/webhooks/alipay/?a=1&b=2",
    "return_url": "",
    "biz_content": '{"out_trade_no":"P20261124ABC","total_amount":"99.00"}',
    "sign": "ignored",
}


def test_the_request_sign_string_keeps_sign_type_drops_sign_and_empties_sorted_raw():
    assert protocol.request_sign_string(REQUEST_PARAMS) == (
        b'app_id=2021000000000001&biz_content={"out_trade_no":"P20261124ABC","total_amount":"99.00"}'
        b"&charset=utf-8&format=JSON&method=alipay.trade.query"
        b"&notify_url=http://kpay.example/payments/webhooks/alipay/?a=1&b=2"
        b"&sign_type=RSA2&timestamp=2026-11-24 18:00:00&version=1.0"
    )


def test_the_notify_sign_string_drops_both_sign_and_sign_type():
    params = {
        "trade_status": "TRADE_SUCCESS",
        "Zeta": "upper case sorts first",
        "sign_type": "RSA2",
        "sign": "x",
        "buyer_id": "",
        "subject": "课程 a&b",
    }
    assert protocol.notify_sign_string(params) == (
        "Zeta=upper case sorts first&subject=课程 a&b&trade_status=TRADE_SUCCESS".encode()
    )


def test_request_signatures_cover_sign_type(settings):
    app_private, app_public, *_ = _keys(settings)
    signed = protocol.sign_request_params(load_private_key(app_private), REQUEST_PARAMS)
    assert "return_url" not in signed  # empty values are not sent
    assert simulator_protocol.verify_request_params(load_public_key(app_public), signed)
    assert not simulator_protocol.verify_request_params(
        load_public_key(app_public), {**signed, "sign_type": "RSA"}
    )


# -- responses: the signature is over the exact text ----------------------------------------
INNER = '{"code": "10000",  "msg":"Success","out_trade_no":"P1", "total_amount" : "99.00"}'


def _response_text(settings, inner=INNER, *, layout="{{{key}:{inner},{sign_key}:{sign}}}"):
    *_, alipay_private, _ = _keys(settings)
    signature = protocol.sign_sha256_rsa(load_private_key(alipay_private), inner.encode())
    return layout.format(
        key='"alipay_trade_query_response"', inner=inner, sign_key='"sign"', sign=json.dumps(signature)
    )


def test_a_response_verifies_over_the_exact_text_whatever_its_layout(settings):
    *_, alipay_public = _keys(settings)
    key = load_public_key(alipay_public)
    assert json.dumps(json.loads(INNER)) != INNER  # re-serializing would break the signature
    plain = _response_text(settings)
    reordered = _response_text(settings, layout="\n{{ {sign_key} : {sign} ,\n  {key}\t:  {inner}\n}}\n")

    for text in (plain, reordered):
        assert protocol.verified_response(key, "alipay.trade.query", text)["total_amount"] == "99.00"


def test_a_tampered_or_unsigned_response_is_invalid(settings):
    *_, alipay_public = _keys(settings)
    key = load_public_key(alipay_public)
    tampered = _response_text(settings).replace('"99.00"', '"0.01"')
    with pytest.raises(InvalidResponse):
        protocol.verified_response(key, "alipay.trade.query", tampered)
    with pytest.raises(InvalidResponse):
        protocol.verified_response(key, "alipay.trade.query", '{"alipay_trade_query_response":' + INNER + "}")
    with pytest.raises(InvalidResponse):
        protocol.verified_response(key, "alipay.trade.query", "<html>busy</html>")


def test_the_simulator_signs_what_the_client_verifies(settings):
    *_, alipay_private, alipay_public = _keys(settings)
    text = simulator_protocol.signed_response_text(
        load_private_key(alipay_private),
        "alipay.trade.close",
        {"code": "10000", "msg": "Success", "备注": "中文"},
    )
    assert "中文" in text  # UTF-8 text, not \u escapes: signed as sent
    data = protocol.verified_response(load_public_key(alipay_public), "alipay.trade.close", text)
    assert data["备注"] == "中文"


# -- amounts ------------------------------------------------------------------------
@given(st.integers(min_value=0, max_value=10**13))
def test_fen_and_yuan_round_trip(fen):
    yuan = fen_to_yuan(fen)
    assert yuan_to_fen(yuan) == fen
    whole, _, cents = yuan.partition(".")
    assert whole.isdigit() and len(cents) == 2


@pytest.mark.parametrize("value", ["99.00", "99.0", "99", " 99.00 "])
def test_yuan_forms_that_are_whole_fen(value):
    assert yuan_to_fen(value) == 9900


@pytest.mark.parametrize("value", ["0.001", "abc", "", "NaN", "Infinity", "1e-3"])
def test_yuan_that_is_not_whole_fen_is_refused(value):
    with pytest.raises(ValueError):
        yuan_to_fen(value)


def test_fen_must_be_an_int():
    with pytest.raises(TypeError):
        fen_to_yuan(99.0)
    assert fen_to_yuan(1) == "0.01" and fen_to_yuan(9900) == "99.00"


# -- options --------------------------------------------------------------------------
def test_check_options_with_dev_keys_needs_only_the_ids(settings):
    """Development points at key files (made by devtools) through production's options."""
    options = settings.KPAY_GATEWAYS["alipay"]["OPTIONS"]
    assert AlipayGateway.check_options({**options, "gateway_url": "https://x"}) == []
    keys_only = {name: options[name] for name in ("app_private_key_path", "alipay_public_key_path")}
    problems = AlipayGateway.check_options(keys_only)
    assert len(problems) == 3 and all(p.endswith(".") for p in problems)


def test_check_options_in_production_needs_both_key_files(tmp_path):
    base = {"app_id": APP_ID, "seller_id": SELLER_ID, "gateway_url": protocol.GATEWAY_URL}
    problems = AlipayGateway.check_options(base)
    assert any("app_private_key_path" in p for p in problems)
    assert any("alipay_public_key_path" in p for p in problems)
    missing = AlipayGateway.check_options(
        {**base, "app_private_key_path": str(tmp_path / "no.pem"), "alipay_public_key_path": str(tmp_path)}
    )
    assert len(missing) == 2 and all("does not exist" in p for p in missing)
    private, public = ensure_dev_keypair(tmp_path, "x")
    assert (
        AlipayGateway.check_options(
            {**base, "app_private_key_path": str(private), "alipay_public_key_path": str(public)}
        )
        == []
    )


def test_a_half_configuration_is_a_system_check_error(settings, tmp_path):
    from django.core.checks import run_checks

    settings.KPAY_GATEWAYS = {
        **settings.KPAY_GATEWAYS,
        "alipay": {"BACKEND": "payments.gateways.alipay.AlipayGateway", "OPTIONS": {"app_id": APP_ID}},
    }
    errors = [e for e in run_checks() if e.id == "kpay.E005" and "alipay" in e.msg]
    assert any("seller_id" in e.msg for e in errors)
    assert any("app_private_key_path" in e.msg for e in errors)


# -- notifications ------------------------------------------------------------------
def test_a_genuine_notification_parses_to_kpay_terms(db, settings):
    from types import SimpleNamespace

    payment = SimpleNamespace(payment_no="P20261124TEST", amount=9900)
    notification = get_gateway("alipay").parse_notification({}, signed_notify_body(payment))
    assert notification.kind == NotificationKind.PAYMENT
    assert (notification.trade_no, notification.amount, notification.currency) == (
        "P20261124TEST",
        9900,
        "CNY",
    )
    assert notification.state == TradeState.SUCCEEDED
    assert dict(notification.merchant_ids) == {"app_id": APP_ID, "seller_id": SELLER_ID}
    assert notification.event_id and notification.payer_id == "2088102177846880"
    assert "sign" not in notification.payload


def test_a_refund_notification_carries_the_cumulative_refund_fee(db):
    from types import SimpleNamespace

    payment = SimpleNamespace(payment_no="P20261124TEST", amount=9900)
    body = signed_notify_body(
        payment, refund_fee="30.00", out_biz_no="R123", gmt_refund="2026-11-24 12:00:00"
    )
    notification = get_gateway("alipay").parse_notification({}, body)
    assert notification.kind == NotificationKind.REFUND
    assert (notification.refund_no, notification.amount) == ("R123", 3000)
    assert notification.state == RefundState.SUCCEEDED


@pytest.mark.parametrize(
    "body",
    [b"", b"sign=abc&trade_status=TRADE_SUCCESS", b"\xff\xfe", b"a=%ZZ&&&=="],
)
def test_an_unsigned_or_malformed_notification_is_invalid(db, body):
    with pytest.raises(InvalidNotification):
        get_gateway("alipay").parse_notification({}, body)


def test_a_notification_signed_with_sign_type_included_is_invalid(db, settings):
    """Signing like a request (sign_type inside the sign string) is not Alipay's notify."""
    *_, alipay_private, _ = _keys(settings)
    params = {
        "notify_id": "n1",
        "out_trade_no": "P1",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "1.00",
    }
    params["sign_type"] = "RSA2"
    params = protocol.sign_request_params(load_private_key(alipay_private), params)
    with pytest.raises(InvalidNotification):
        get_gateway("alipay").parse_notification({}, urlencode(params).encode())


def test_the_reply_is_exactly_success_or_fail(db):
    gateway = get_gateway("alipay")
    ok, bad = gateway.notification_reply(ok=True), gateway.notification_reply(ok=False, message="x")
    assert (ok.status, ok.body, ok.content_type) == (200, b"success", "text/plain")
    assert (bad.status, bad.body) == (400, b"fail")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "override",
    [{"app_id": "2021000000000999"}, {"seller_id": "2088000000000999"}, {"total_amount": "0.01"}],
    ids=["wrong app_id", "wrong seller_id", "wrong amount"],
)
def test_a_genuine_notification_that_is_not_ours_is_flagged_and_pays_nothing(
    live_simulators, learner, course, override
):
    order, payment = _start(learner, course)
    response = Client().post(
        "/payments/webhooks/alipay/",
        data=signed_notify_body(payment, **override),
        content_type="application/x-www-form-urlencoded",
    )
    assert (response.status_code, response.content) == (400, b"fail")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING and payment.flag
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT


# -- the simulator, over HTTP -------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("channel", ["alipay_page", "alipay_wap"])
def test_a_page_or_wap_redirect_verifies_at_the_simulator_and_returns_signed(
    live_simulators, settings, learner, course, channel
):
    order, payment = _start(learner, course, channel)
    action = payment.action
    assert action["kind"] == "redirect" and action["redirect_url"].startswith(live_simulators.url)
    params = dict(parse_qsl(urlsplit(action["redirect_url"]).query))
    assert params["method"] == f"alipay.trade.{channel.removeprefix('alipay_')}.pay"
    assert params["return_url"] == live_simulators.url + reverse("payments:result", args=[order.order_no])

    # A tampered redirect is refused (signed 40002), the genuine one shows the cashier.
    forged = action["redirect_url"].replace("99.00", "0.01")
    assert forged != action["redirect_url"]
    refused = httpx.get(forged, timeout=10)
    assert json.loads(refused.text)[f"{params['method'].replace('.', '_')}_response"]["sub_code"] == (
        "isv.invalid-signature"
    )
    landing = httpx.get(action["redirect_url"], timeout=10)
    assert landing.status_code == 302
    cashier = httpx.URL(action["redirect_url"]).join(landing.headers["Location"])
    back = press(str(cashier), "pay")

    assert back.status_code == 302 and back.headers["Location"].startswith(params["return_url"])
    returned = dict(parse_qsl(urlsplit(back.headers["Location"]).query))
    *_, alipay_public = _keys(settings)
    assert protocol.verify_notify_params(load_public_key(alipay_public), returned)
    assert returned["out_trade_no"] == payment.payment_no and returned["total_amount"] == "99.00"
    # Paid by the notification, not by the return.
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)


@pytest.mark.django_db(transaction=True)
def test_a_scanned_trade_is_pending_then_closes_repeatably(live_simulators, learner, course):
    _order, payment = _start(learner, course)
    gateway = get_gateway("alipay")
    assert gateway.query_payment(payment.payment_no).state == TradeState.NOT_FOUND  # not scanned yet
    assert httpx.get(payment.action["code_url"], timeout=10).status_code == 200  # scan
    assert gateway.query_payment(payment.payment_no).state == TradeState.PENDING
    gateway.close_payment(payment.payment_no)
    gateway.close_payment(payment.payment_no)
    assert gateway.query_payment(payment.payment_no).state == TradeState.CLOSED


@pytest.mark.django_db(transaction=True)
def test_refunds_are_partial_bounded_and_queryable(live_simulators, learner, course):
    from tests.gateways.test_alipay_contract import TestAlipayGateway

    contract = TestAlipayGateway()
    _order, payment = contract.paid(learner, course)
    gateway = get_gateway("alipay")
    first = gateway.refund(contract.refund_request(payment, 4000, "R-A"))
    second = gateway.refund(contract.refund_request(payment, 5900, "R-B"))
    assert (first.state, first.amount, second.amount) == (RefundState.SUCCEEDED, 4000, 5900)
    assert gateway.query_refund("R-A", payment_no=payment.payment_no).amount == 4000
    unknown = gateway.query_refund("R-NONE", payment_no=payment.payment_no)
    assert unknown.state == RefundState.PROCESSING and unknown.amount is None
    with pytest.raises(GatewayRejected) as refused:
        gateway.refund(contract.refund_request(payment, 1, "R-C"))
    assert refused.value.gateway_code == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"  # nothing left to refund
    assert gateway.query_payment(payment.payment_no).state == TradeState.CLOSED


@pytest.mark.django_db(transaction=True)
def test_a_request_signed_with_another_app_key_is_refused(live_simulators, settings, tmp_path):
    *_, alipay_public = _keys(settings)
    other_private, _ = ensure_dev_keypair(tmp_path, "other-app")
    options = dict(settings.KPAY_GATEWAYS["alipay"]["OPTIONS"])
    options.pop("app_private_key_path"), options.pop("alipay_public_key_path")
    gateway = AlipayGateway(
        "alipay",
        **options,
        app_private_key_path=str(other_private),
        alipay_public_key_path=str(alipay_public),
    )
    with pytest.raises(GatewayRejected) as refused:
        gateway.query_payment("P0000000001")
    assert refused.value.gateway_code == "isv.invalid-signature"


@pytest.mark.django_db(transaction=True)
def test_a_response_signed_with_another_key_is_an_invalid_response(live_simulators, settings, tmp_path):
    app_private, *_ = _keys(settings)
    _, other_public = ensure_dev_keypair(tmp_path, "not-alipay")
    options = dict(settings.KPAY_GATEWAYS["alipay"]["OPTIONS"])
    options.pop("app_private_key_path"), options.pop("alipay_public_key_path")
    gateway = AlipayGateway(
        "alipay", **options, app_private_key_path=str(app_private), alipay_public_key_path=str(other_public)
    )
    with pytest.raises(InvalidResponse):
        gateway.query_payment("P0000000001")


@pytest.mark.django_db(transaction=True)
def test_the_trade_bill_lists_yesterdays_payment(live_simulators, learner, course):
    from devtools.simulators.alipay.models import AlipayTrade
    from tests.gateways.test_alipay_contract import TestAlipayGateway

    _order, payment = TestAlipayGateway().paid(learner, course)
    yesterday = timezone.now() - timedelta(days=1)
    AlipayTrade.objects.filter(out_trade_no=payment.payment_no).update(gmt_payment=yesterday)
    day = timezone.localtime(yesterday, protocol.SHANGHAI).date()

    into = io.BytesIO()
    bill = get_gateway("alipay").fetch_bill(day, into)

    assert bill.size == len(into.getvalue()) and zipfile.is_zipfile(into)  # kept as delivered
    with zipfile.ZipFile(into) as archive:
        detail = next(n for n in archive.namelist() if n.endswith("业务明细.csv"))
        text = archive.read(detail).decode("gbk")
    lines = text.splitlines()
    assert lines[0].startswith("#")
    header = next(line for line in lines if line.startswith("支付宝交易号,商户订单号,业务类型"))
    assert header.endswith("退款批次号/请求号,服务费(元),分润(元),备注")
    row = next(line for line in lines if payment.payment_no in line)
    assert f"{payment.gateway_txn_id},{payment.payment_no},交易," in row and ",99.00,99.00," in row
    into.seek(0)
    reader = get_gateway("alipay").read_bill(into)
    (line,) = [line for line in reader if line.trade_no == payment.payment_no]
    assert (line.kind, line.amount, line.txn_id) == ("payment", 9900, payment.gateway_txn_id)
    assert reader.summary.payment_lines >= 1 and reader.summary.refund_lines == 0
    with pytest.raises(GatewayRejected):  # today's bill is not ready
        get_gateway("alipay").fetch_bill(timezone.localdate(timezone=protocol.SHANGHAI), io.BytesIO())


@pytest.mark.django_db(transaction=True)
def test_a_forged_bill_link_is_refused(live_simulators):
    response = httpx.get(f"{live_simulators.url}/simulators/alipay/bill/{secrets.token_hex(8)}/", timeout=10)
    assert response.status_code == 404
    zip_probe = io.BytesIO(response.content)
    assert not zipfile.is_zipfile(zip_probe)


# -- interop with python-alipay-sdk (an independent implementation) --------------------
def _sdk(settings, *, signer: str) -> AliPay:
    """The SDK's constructor makes no network call; the key it signs with is ``signer``'s."""
    app_private, _, alipay_private, alipay_public = _keys(settings)
    private = app_private if signer == "app" else alipay_private
    return AliPay(
        appid=APP_ID,
        app_private_key_string=private.read_text(),
        alipay_public_key_string=alipay_public.read_text(),
        sign_type="RSA2",
    )


def test_the_sdk_verifies_what_the_simulator_notifies(db, settings):
    from types import SimpleNamespace

    payment = SimpleNamespace(payment_no="P20261124SDK", amount=12345)
    params = dict(parse_qsl(signed_notify_body(payment).decode()))
    signature = params.pop("sign")  # the SDK's verify() wants sign popped first
    assert _sdk(settings, signer="app").verify(dict(params), signature)
    params["total_amount"] = "123.46"
    assert not _sdk(settings, signer="app").verify(params, signature)


def test_the_backend_accepts_a_notification_signed_by_the_sdk(db, settings):
    from types import SimpleNamespace

    sdk = _sdk(settings, signer="alipay")  # playing Alipay: sign with the "Alipay" key
    fields = {"notify_id": "sdk-1", "notify_type": "trade_status_sync", "charset": "utf-8", "version": "1.0"}
    fields["notify_time"] = protocol.alipay_timestamp()  # Alipay always sends it; kpay checks it
    fields |= notify_fields(SimpleNamespace(payment_no="P20261124SDK", amount=12345))
    body = sdk.sign_data(fields) + "&sign_type=RSA2"  # notify: sign_type is not signed
    notification = get_gateway("alipay").parse_notification({}, body.encode())
    assert (notification.trade_no, notification.amount) == ("P20261124SDK", 12345)


@pytest.mark.django_db(transaction=True)
def test_the_simulator_accepts_sdk_requests_and_the_sdk_verifies_its_answers(live_simulators, settings):
    """The SDK sends everything as GET; its response check extracts the exact text too."""
    sdk = _sdk(settings, signer="app")
    gateway_url = settings.KPAY_GATEWAYS["alipay"]["OPTIONS"]["gateway_url"]
    query = sdk.client_api("alipay.trade.query", biz_content={"out_trade_no": "P-NOT-THERE"})
    raw = httpx.get(f"{gateway_url}?{query}", timeout=10).text
    # The SDK's own exact-text extraction and RSA2 check (it raises if either fails).
    answer = sdk._verify_and_return_sync_response(raw, "alipay_trade_query_response")
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")

    precreate = sdk.client_api(
        "alipay.trade.precreate",
        biz_content={"out_trade_no": f"P{secrets.token_hex(6)}", "total_amount": "0.01", "subject": "sdk"},
        notify_url=f"{live_simulators.url}/payments/webhooks/alipay/",
    )
    answer = sdk._verify_and_return_sync_response(
        httpx.get(f"{gateway_url}?{precreate}", timeout=10).text, "alipay_trade_precreate_response"
    )
    assert answer["code"] == "10000" and answer["qr_code"].startswith(live_simulators.url)


@pytest.mark.django_db(transaction=True)
def test_the_simulator_accepts_an_sdk_page_pay_url(live_simulators, settings):
    sdk = _sdk(settings, signer="app")
    gateway_url = settings.KPAY_GATEWAYS["alipay"]["OPTIONS"]["gateway_url"]
    query = sdk.api_alipay_trade_page_pay(
        subject="sdk course",
        out_trade_no=f"P{secrets.token_hex(6)}",
        total_amount="9.90",
        return_url=f"{live_simulators.url}/back/",
        notify_url=f"{live_simulators.url}/payments/webhooks/alipay/",
    )
    landing = httpx.get(f"{gateway_url}?{query}", timeout=10)
    assert landing.status_code == 302 and "/simulators/alipay/scan/" in landing.headers["Location"]


# -- answers the simulator never gives: recorded, signed payloads ----------------------
def _gateway_answering(settings, answer) -> AlipayGateway:
    """The configured backend with its HTTP client answering ``answer(method)`` (a
    ``_response`` object, signed here with the development "Alipay" key, or an int status)."""
    *_, alipay_private, _ = _keys(settings)
    key = load_private_key(alipay_private)

    def respond(request: httpx.Request) -> httpx.Response:
        method = request.url.params["method"]
        payload = answer(method)
        if isinstance(payload, int):
            return httpx.Response(payload, text="busy")
        return httpx.Response(200, text=simulator_protocol.signed_response_text(key, method, payload))

    gateway = AlipayGateway("alipay", **settings.KPAY_GATEWAYS["alipay"]["OPTIONS"])
    gateway._client = httpx.Client(transport=httpx.MockTransport(respond))
    return gateway


@pytest.mark.parametrize(
    ("answer", "error", "gateway_code"),
    [
        ({"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"}, None, ""),
        (503, None, ""),
        (
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.SYSTEM_ERROR",
                "sub_msg": "系统错误",
            },
            GatewayRejected,
            "ACQ.SYSTEM_ERROR",
        ),
        (
            {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id"},
            GatewayRejected,
            "",
        ),
    ],
    ids=["20000", "http 503", "40004 other", "40002"],
)
def test_gateway_answers_map_to_payment_errors(db, settings, answer, error, gateway_code):
    from payments.exceptions import GatewayUnavailable

    gateway = _gateway_answering(settings, lambda method: answer)
    with pytest.raises(error or GatewayUnavailable) as raised:
        gateway.query_payment("P1")
    if gateway_code:
        assert raised.value.gateway_code == gateway_code and "系统错误" in str(raised.value.message)


@pytest.mark.parametrize(
    ("trade_status", "state"),
    [
        ("WAIT_BUYER_PAY", TradeState.PENDING),
        ("TRADE_SUCCESS", TradeState.SUCCEEDED),
        ("TRADE_FINISHED", TradeState.SUCCEEDED),
        ("TRADE_CLOSED", TradeState.CLOSED),
    ],
)
def test_query_states_amounts_and_ids(db, settings, trade_status, state):
    answer = {
        "code": "10000",
        "msg": "Success",
        "trade_no": "2026112422000000000001",
        "out_trade_no": "P1",
        "trade_status": trade_status,
        "total_amount": "99.00",
        "buyer_user_id": "2088102177846880",
        "send_pay_date": "2026-11-24 10:00:05",
    }
    status = _gateway_answering(settings, lambda method: answer).query_payment("P1")
    assert (status.state, status.amount, status.currency) == (state, 9900, "CNY")
    assert status.gateway_txn_id == "2026112422000000000001" and status.payer_id == "2088102177846880"
    assert dict(status.merchant_ids) == {"app_id": APP_ID, "seller_id": SELLER_ID}
    assert status.paid_at.utcoffset() == timedelta(hours=8)


def test_closing_a_paid_trade_at_alipay_is_trade_already_paid(db, settings):
    from payments.exceptions import TradeAlreadyPaid

    answers = {
        "alipay.trade.close": {
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": "ACQ.TRADE_STATUS_ERROR",
        },
        "alipay.trade.query": {
            "code": "10000",
            "msg": "Success",
            "trade_no": "T1",
            "out_trade_no": "P1",
            "trade_status": "TRADE_SUCCESS",
            "total_amount": "1.00",
        },
    }
    with pytest.raises(TradeAlreadyPaid):
        _gateway_answering(settings, answers.__getitem__).close_payment("P1")
