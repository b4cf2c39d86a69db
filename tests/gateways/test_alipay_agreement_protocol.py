"""Alipay 周期扣款 protocol details: the page.sign request as sent, what the client and the
simulator refuse, agreement notifications (verified, tampered, malformed, of the wrong
kind), the charge answers the simulator never gives, and interop with the independent
``python-alipay-sdk`` (test-only)."""

import json
from datetime import date, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from devtools.keys import ALIPAY_APP, ALIPAY_PLATFORM, ensure_dev_keypair
from devtools.simulators.alipay import protocol as simulator_protocol
from devtools.simulators.alipay.models import AlipayAgreement
from devtools.simulators.alipay.views import notify_body, signed_notify_params
from payments.exceptions import GatewayRejected, GatewayUnavailable, InvalidNotification, InvalidResponse
from payments.gateways import get_gateway
from payments.gateways.alipay import AlipayGateway, protocol
from payments.gateways.base import TradeState
from payments.gateways.signing import load_private_key, load_public_key, sign_sha256_rsa
from payments.gateways.withholding import AgreementState, ChargeRequest, PeriodUnit
from payments.models import GatewayEvent, Payment
from tests.gateways.test_alipay_agreement import agreement_request, payment_for_charge
from tests.gateways.test_alipay_contract import (  # noqa: F401 (alipay_configured is an autouse fixture)
    APP_ID,
    SELLER_ID,
    alipay_configured,
    signed_notify_body,
)
from tests.gateways.test_alipay_protocol import _gateway_answering, _sdk

pytestmark = pytest.mark.timeout(60)

WITHHOLDING_WEBHOOK = "/payments/webhooks/alipay/withholding/"


class _Inbox:
    url = "http://127.0.0.1:9/agreements/notify"


def dut_fields(notify_type="dut_user_sign", **overrides) -> dict:
    """What Alipay posts for an agreement (the fields of real dut_user_* payloads)."""
    fields = {
        "notify_type": notify_type,
        "charset": "UTF-8",
        "app_id": APP_ID,
        "auth_app_id": APP_ID,
        "agreement_no": "20265226712418230557",
        "external_agreement_no": "KA0123456789ABCDEF",
        "personal_product_code": "CYCLE_PAY_AUTH_P",
        "sign_scene": "INDUSTRY|EDU",
        "alipay_user_id": "2088202596648570",
        "alipay_logon_id": "280***@qq.com",
    }
    if notify_type == "dut_user_sign":
        fields |= {
            "status": "NORMAL",
            "sign_time": "2026-11-24 11:26:35",
            "valid_time": "2026-11-24 11:26:35",
            "invalid_time": "2115-02-01 00:00:00",
        }
    else:
        fields |= {"status": "UNSIGN", "unsign_time": "2026-11-25 13:21:38"}
    fields.update(overrides)
    return fields


def dut_body(notify_type="dut_user_sign", **overrides) -> bytes:
    return notify_body(signed_notify_params(dut_fields(notify_type, **overrides)))


def parse(body: bytes):
    return get_gateway("alipay").parse_agreement_notification({}, body)


# -- the page.sign request --------------------------------------------------------------
def test_the_signing_request_is_a_signed_page_sign_with_the_cycle_pay_period_rule(db, settings):
    request = agreement_request(
        _Inbox, period_unit=PeriodUnit.MONTH, period=1, first_charge_on=date(2026, 12, 5), amount=3000
    )
    action = get_gateway("alipay").agreement_sign(request)

    url = urlsplit(action.redirect_url)
    params = dict(parse_qsl(url.query))
    assert action.kind == "redirect" and url.path.endswith("/simulators/alipay/gateway.do")
    assert (params["method"], params["app_id"], params["sign_type"], params["version"]) == (
        "alipay.user.agreement.page.sign",
        APP_ID,
        "RSA2",
        "1.0",
    )
    assert (params["notify_url"], params["return_url"]) == (request.notify_url, request.return_url)
    assert json.loads(params["biz_content"]) == {
        "personal_product_code": "CYCLE_PAY_AUTH_P",
        "product_code": "CYCLE_PAY_AUTH",
        "sign_scene": "INDUSTRY|EDU",
        "external_agreement_no": request.agreement_no,
        "access_params": {"channel": "QRCODE"},
        "period_rule_params": {
            "period_type": "MONTH",
            "period": 1,
            "execute_time": "2026-12-05",
            "single_amount": "30.00",
        },
    }
    _, app_public = ensure_dev_keypair(settings.KPAY_KEY_DIR, ALIPAY_APP)
    assert simulator_protocol.verify_request_params(load_public_key(app_public), params)


@pytest.mark.parametrize(
    ("overrides", "gateway_code"),
    [
        ({"period_unit": PeriodUnit.DAY, "period": 6}, "PERIOD_RULE"),
        ({"period_unit": PeriodUnit.MONTH, "period": 1, "first_charge_on": date(2026, 1, 29)}, "PERIOD_RULE"),
        ({"period": 0}, "PERIOD_RULE"),
        ({"agreement_no": "KA-2026-0001"}, "AGREEMENT_NO"),
        ({"agreement_no": "K" * 33}, "AGREEMENT_NO"),
        ({"currency": "USD"}, "CURRENCY"),
        ({"amount": 0}, "AMOUNT"),
        ({"channel": "alipay_qr"}, "CHANNEL"),
    ],
    ids=[
        "day 6",
        "month 29th",
        "period 0",
        "agreement no dash",
        "agreement no 33",
        "usd",
        "amount 0",
        "channel",
    ],
)
def test_the_client_refuses_what_alipay_would(db, overrides, gateway_code):
    with pytest.raises(GatewayRejected) as refused:
        get_gateway("alipay").agreement_sign(agreement_request(_Inbox, **overrides))
    assert refused.value.gateway_code == gateway_code


def test_a_month_on_the_28th_and_a_seven_day_period_are_fine(db):
    gateway = get_gateway("alipay")
    gateway.agreement_sign(agreement_request(_Inbox, period_unit=PeriodUnit.DAY, period=7))
    gateway.agreement_sign(
        agreement_request(_Inbox, period_unit=PeriodUnit.MONTH, period=1, first_charge_on=date(2026, 2, 28))
    )


def test_the_signing_scene_option_is_checked():
    options = {"app_id": "x", "seller_id": "y", "gateway_url": "http://g"}
    assert any(
        "agreement_sign_scene" in p
        for p in AlipayGateway.check_options({**options, "agreement_sign_scene": "DEFAULT|DEFAULT"})
    )
    assert not any(
        "agreement_sign_scene" in p
        for p in AlipayGateway.check_options({**options, "agreement_sign_scene": "INDUSTRY|DIGITAL_MEDIA"})
    )


# -- what the simulator refuses in a correctly signed page.sign ----------------------------
def _page_sign_url(settings, gateway_url: str, biz: dict) -> str:
    app_private, _ = ensure_dev_keypair(settings.KPAY_KEY_DIR, ALIPAY_APP)
    params = protocol.sign_request_params(
        load_private_key(app_private),
        {
            "app_id": APP_ID,
            "method": "alipay.user.agreement.page.sign",
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": protocol.alipay_timestamp(),
            "version": "1.0",
            "notify_url": _Inbox.url,
            "biz_content": json.dumps(biz),
        },
    )
    return f"{gateway_url}?{urlencode(params)}"


GOOD_BIZ = {
    "personal_product_code": "CYCLE_PAY_AUTH_P",
    "product_code": "CYCLE_PAY_AUTH",
    "sign_scene": "INDUSTRY|EDU",
    "external_agreement_no": "KASIMCHECKS01",
    "access_params": {"channel": "QRCODE"},
    "period_rule_params": {
        "period_type": "DAY",
        "period": 7,
        "execute_time": "2026-12-05",
        "single_amount": "0.01",
    },
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("change", "sub_code", "says"),
    [
        ({"period_rule_params": {**GOOD_BIZ["period_rule_params"], "period": 6}}, "INVALID_PARAMETER", "7"),
        (
            {
                "period_rule_params": {
                    **GOOD_BIZ["period_rule_params"],
                    "period_type": "MONTH",
                    "period": 1,
                    "execute_time": "2026-12-29",
                }
            },
            "INVALID_PARAMETER",
            "28",
        ),
        (
            {"period_rule_params": {**GOOD_BIZ["period_rule_params"], "single_amount": "0.00"}},
            "INVALID_PARAMETER",
            "single_amount",
        ),
        (
            {"period_rule_params": {**GOOD_BIZ["period_rule_params"], "period_type": "WEEK"}},
            "INVALID_PARAMETER",
            "period_type",
        ),
        ({"period_rule_params": None}, "INVALID_PARAMETER", "period_rule_params"),
        ({"sign_scene": "DEFAULT|DEFAULT"}, "INVALID_PARAMETER", "sign_scene"),
        ({"external_agreement_no": "KA_0001"}, "INVALID_PARAMETER", "external_agreement_no"),
        ({"access_params": {"channel": "PC"}}, "INVALID_PARAMETER", "access_params"),
        ({"personal_product_code": "GENERAL_WITHHOLDING_P"}, "PRODUCT_CODE_NOT_SUPPORTED_ERROR", ""),
    ],
    ids=[
        "day 6",
        "month 29th",
        "single 0",
        "week",
        "no rule",
        "default scene",
        "agreement no",
        "channel",
        "product",
    ],
)
def test_the_simulator_refuses_a_signed_request_alipay_would_refuse(
    live_simulators, settings, change, sub_code, says
):
    gateway_url = settings.KPAY_GATEWAYS["alipay"]["OPTIONS"]["gateway_url"]
    answer = httpx.get(_page_sign_url(settings, gateway_url, {**GOOD_BIZ, **change}), timeout=10)

    data = protocol.verified_response(
        load_public_key(ensure_dev_keypair(settings.KPAY_KEY_DIR, ALIPAY_PLATFORM)[1]),
        "alipay.user.agreement.page.sign",
        answer.text,
    )
    assert (data["code"], data["sub_code"]) == ("40004", sub_code) and says in data["sub_msg"]
    assert not AlipayAgreement.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_simulator_opens_the_signing_page_for_a_good_one(live_simulators, settings):
    gateway_url = settings.KPAY_GATEWAYS["alipay"]["OPTIONS"]["gateway_url"]
    answer = httpx.get(_page_sign_url(settings, gateway_url, GOOD_BIZ), timeout=10)
    assert answer.status_code == 302 and "/simulators/alipay/agreement/" in answer.headers["Location"]
    page = httpx.get(live_simulators.url + answer.headers["Location"], timeout=10)
    assert page.status_code == 200 and "¥0.01" in page.text and "每 7 天" in page.text


@pytest.mark.django_db(transaction=True)
def test_a_tampered_signing_url_is_refused_by_the_simulator(live_simulators):
    action = get_gateway("alipay").agreement_sign(agreement_request(_Inbox))
    tampered = action.redirect_url.replace("single_amount%22%3A%2299.00", "single_amount%22%3A%229999.00")
    assert tampered != action.redirect_url

    answer = httpx.get(tampered, timeout=10)

    assert answer.status_code == 200 and "isv.invalid-signature" in answer.text
    assert not AlipayAgreement.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_requests_signed_with_another_key_are_refused_and_answers_signed_by_another_are_not_believed(
    live_simulators, settings, tmp_path
):
    options = settings.KPAY_GATEWAYS["alipay"]["OPTIONS"]
    other_private, other_public = ensure_dev_keypair(tmp_path, "someone-else")
    impostor = AlipayGateway("alipay", **{**options, "app_private_key_path": str(other_private)})
    with pytest.raises(GatewayRejected) as refused:
        impostor.agreement_query("KA0001")
    assert refused.value.gateway_code == "isv.invalid-signature"

    credulous = AlipayGateway("alipay", **{**options, "alipay_public_key_path": str(other_public)})
    with pytest.raises(InvalidResponse):
        credulous.agreement_query("KA0001")
    with pytest.raises(InvalidResponse):
        credulous.charge(
            ChargeRequest(
                payment_no="P20261201CHECK",
                gateway_agreement_id="20260000000000000001",
                amount=100,
                currency="CNY",
                description="x",
                notify_url="",
            )
        )


# -- agreement notifications ------------------------------------------------------------
def test_a_signing_notification_is_parsed(db):
    notification = parse(dut_body())
    assert notification.state == AgreementState.ACTIVE and notification.by_payer is False
    assert (notification.agreement_no, notification.gateway_agreement_id, notification.payer_id) == (
        "KA0123456789ABCDEF",
        "20265226712418230557",
        "2088202596648570",
    )
    assert notification.occurred_at == timezone.datetime(2026, 11, 24, 11, 26, 35, tzinfo=protocol.SHANGHAI)
    assert dict(notification.merchant_ids) == {"app_id": APP_ID, "seller_id": SELLER_ID}
    assert notification.event_id and "sign" not in notification.payload


def test_an_unsigning_notification_is_the_payers(db):
    notification = parse(dut_body("dut_user_unsign"))
    assert notification.state == AgreementState.TERMINATED and notification.by_payer is True
    assert notification.occurred_at == timezone.datetime(2026, 11, 25, 13, 21, 38, tzinfo=protocol.SHANGHAI)


def test_another_apps_agreement_shows_as_a_merchant_mismatch(db):
    notification = parse(dut_body(app_id="2021000000009999", auth_app_id="2021000000009999"))
    assert dict(notification.merchant_ids) != dict(get_gateway("alipay").merchant_ids)


def test_the_reply_alipay_expects():
    gateway = get_gateway("alipay")
    assert gateway.agreement_notification_reply(ok=True).body == b"success"
    assert gateway.agreement_notification_reply(ok=False).status >= 400


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body: body.replace(
            b"external_agreement_no=KA0123456789ABCDEF", b"external_agreement_no=KA0000"
        ),
        lambda body: body.replace(b"status=NORMAL", b"status=UNSIGN").replace(
            b"dut_user_sign", b"dut_user_unsign"
        ),
        lambda body: body.replace(b"sign_type=RSA2", b"sign_type=RSA"),
    ],
    ids=["agreement number", "status and type", "sign type"],
)
def test_a_tampered_agreement_notification_is_refused(db, tamper):
    body = dut_body()
    assert tamper(body) != body
    with pytest.raises(InvalidNotification):
        parse(tamper(body))


def test_an_agreement_notification_signed_by_someone_else_is_refused(db, tmp_path):
    other_private, _ = ensure_dev_keypair(tmp_path, "someone-else")
    params = {**dut_fields(), "notify_id": "forged", "notify_time": protocol.alipay_timestamp()}
    params["sign"] = sign_sha256_rsa(load_private_key(other_private), protocol.notify_sign_string(params))
    params["sign_type"] = "RSA2"
    with pytest.raises(InvalidNotification):
        parse(urlencode(params).encode())


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe\x00",
        b"a=1&b",
        b"notify_type=dut_user_sign&status=NORMAL",
        lambda: signed_notify_body(
            type("T", (), {"payment_no": "P1", "amount": 100})
        ),  # a trade notification
        lambda: dut_body(status="UNSIGN"),
        lambda: dut_body("dut_user_unsign", status="NORMAL"),
        lambda: dut_body(notify_type="dut_user_modify"),
        lambda: dut_body(external_agreement_no=""),
        lambda: dut_body(agreement_no=""),
        lambda: dut_body(sign_time="yesterday"),
        lambda: dut_body(notify_time=protocol.alipay_timestamp(timezone.now() - timedelta(hours=30))),
    ],
    ids=[
        "empty",
        "not utf-8",
        "not a form",
        "unsigned",
        "trade notification",
        "sign with UNSIGN",
        "unsign with NORMAL",
        "other type",
        "no external number",
        "no agreement number",
        "bad sign_time",
        "stale",
    ],
)
def test_malformed_or_foreign_agreement_notifications_are_refused(db, body):
    with pytest.raises(InvalidNotification):
        parse(body() if callable(body) else body)


# -- the charge's notification at the withholding webhook -----------------------------------
@pytest.mark.parametrize(
    "body",
    [b"", b"\xff\xfe", b"a=1&b", lambda: dut_body()],
    ids=["empty", "not utf-8", "not a form", "an agreement notification"],
)
def test_the_withholding_webhook_refuses_bad_bodies_in_alipays_words(db, body):
    response = Client().post(
        WITHHOLDING_WEBHOOK,
        data=body() if callable(body) else body,
        content_type="application/x-www-form-urlencoded",
    )
    assert (response.status_code, response.content) == (400, b"fail")
    assert not GatewayEvent.objects.exists()


def test_a_tampered_charge_notification_changes_nothing_and_the_genuine_one_pays(db, learner):
    payment = payment_for_charge(learner)
    body = signed_notify_body(payment)
    tampered = body.replace(b"total_amount=99.00", b"total_amount=0.01")
    assert tampered != body

    refused = Client().post(
        WITHHOLDING_WEBHOOK, data=tampered, content_type="application/x-www-form-urlencoded"
    )
    assert (refused.status_code, refused.content) == (400, b"fail")
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING

    accepted = Client().post(WITHHOLDING_WEBHOOK, data=body, content_type="application/x-www-form-urlencoded")
    assert (accepted.status_code, accepted.content) == (200, b"success")
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
    assert reverse("payments:withholding-webhook", args=["alipay"]) == WITHHOLDING_WEBHOOK


# -- charge answers the simulator never gives ------------------------------------------
CHARGE = ChargeRequest(
    payment_no="P20261201ANSWERS",
    gateway_agreement_id="20265226712418230557",
    amount=9900,
    currency="CNY",
    description="Membership renewal",
    notify_url="http://kpay.example/payments/webhooks/alipay/withholding/",
)


@pytest.mark.parametrize(
    "answer",
    [
        {"code": "10003", "msg": "order success pay inprocess", "out_trade_no": CHARGE.payment_no},
        {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"},
        {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR", "sub_msg": "系统错误"},
    ],
    ids=["10003 paying", "20000", "system error"],
)
def test_an_unknown_charge_outcome_is_pending(db, settings, answer):
    status = _gateway_answering(settings, lambda method: answer).charge(CHARGE)
    assert status.state == TradeState.PENDING and not status.failure_code


def test_a_charge_the_request_made_wrong_is_an_error_not_a_failed_payment(db, settings):
    answer = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id"}
    with pytest.raises(GatewayRejected) as refused:
        _gateway_answering(settings, lambda method: answer).charge(CHARGE)
    assert refused.value.gateway_code == "isv.invalid-app-id"


def test_a_charge_on_an_unreachable_gateway_is_unknown(db):
    with pytest.raises(GatewayUnavailable):
        get_gateway("alipay").charge(CHARGE)  # the closed loopback port


@pytest.mark.parametrize(
    "answer",
    [
        {"code": "10000", "msg": "Success", "out_trade_no": "P-SOMEONE-ELSE", "total_amount": "99.00"},
        {"code": "10000", "msg": "Success", "out_trade_no": CHARGE.payment_no, "total_amount": "lots"},
    ],
    ids=["another trade", "bad amount"],
)
def test_a_charge_answer_that_does_not_add_up_is_not_believed(db, settings, answer):
    with pytest.raises(InvalidResponse):
        _gateway_answering(settings, lambda method: answer).charge(CHARGE)


def test_a_charge_answer_reports_the_amount_alipay_took(db, settings):
    answer = {
        "code": "10000",
        "msg": "Success",
        "trade_no": "2026120122000000000009",
        "out_trade_no": CHARGE.payment_no,
        "total_amount": "98.00",
        "buyer_user_id": "2088202596648570",
        "gmt_payment": "2026-12-01 09:00:01",
    }
    status = _gateway_answering(settings, lambda method: answer).charge(CHARGE)
    assert (status.state, status.amount) == (TradeState.SUCCEEDED, 9800)  # the caller compares it
    assert dict(status.merchant_ids) == {"app_id": APP_ID, "seller_id": SELLER_ID}


@pytest.mark.parametrize(
    ("status", "state"),
    [("NORMAL", AgreementState.ACTIVE), ("TEMP", AgreementState.PENDING), ("STOP", AgreementState.PENDING)],
)
def test_query_statuses(db, settings, status, state):
    answer = {
        "code": "10000",
        "msg": "Success",
        "agreement_no": "20265226712418230557",
        "external_agreement_no": "KA0001",
        "status": status,
        "principal_id": "2088202596648570",
        "sign_time": "2026-11-24 11:26:35",
    }
    result = _gateway_answering(settings, lambda method: answer).agreement_query("KA0001")
    assert result.state == state and result.payer_id == "2088202596648570"


def test_a_query_answered_for_another_agreement_is_not_believed(db, settings):
    answer = {"code": "10000", "msg": "Success", "external_agreement_no": "KA9999", "status": "NORMAL"}
    with pytest.raises(InvalidResponse):
        _gateway_answering(settings, lambda method: answer).agreement_query("KA0001")


# -- interop with python-alipay-sdk -----------------------------------------------------
def test_the_sdk_verifies_the_simulators_agreement_notification(db, settings):
    params = dict(parse_qsl(dut_body().decode()))
    signature = params.pop("sign")
    assert _sdk(settings, signer="app").verify(dict(params), signature)
    params["agreement_no"] = "20265226712418230558"
    assert not _sdk(settings, signer="app").verify(params, signature)


def test_the_backend_accepts_an_agreement_notification_signed_by_the_sdk(db, settings):
    sdk = _sdk(settings, signer="alipay")  # playing Alipay
    fields = {
        **dut_fields(),
        "notify_id": "sdk-dut-1",
        "version": "1.0",
        "notify_time": protocol.alipay_timestamp(),
    }
    body = sdk.sign_data(fields) + "&sign_type=RSA2"
    assert parse(body.encode()).agreement_no == "KA0123456789ABCDEF"


@pytest.mark.django_db(transaction=True)
def test_the_simulator_answers_the_sdks_agreement_query(live_simulators, settings):
    sdk = _sdk(settings, signer="app")
    gateway_url = settings.KPAY_GATEWAYS["alipay"]["OPTIONS"]["gateway_url"]
    query = sdk.client_api(
        "alipay.user.agreement.query",
        biz_content={
            "personal_product_code": "CYCLE_PAY_AUTH_P",
            "sign_scene": "INDUSTRY|EDU",
            "external_agreement_no": "KANOTHERE",
        },
    )
    answer = sdk._verify_and_return_sync_response(
        httpx.get(f"{gateway_url}?{query}", timeout=10).text, "alipay_user_agreement_query_response"
    )
    assert (answer["code"], answer["sub_code"]) == ("40004", "USER_AGREEMENT_NOT_EXIST")
