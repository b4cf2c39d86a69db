"""WeChat Pay papay (委托代扣) protocol pieces without a network: the v2 signature against
the official vector and an independent SDK's, safe XML parsing, redaction, the
notification checks, the configuration check, and the rules the backend announces."""

import hashlib
import hmac
from datetime import time

import pytest

from devtools.keys import ensure_dev_material
from devtools.simulators.wechatpay import papay as simulator
from devtools.simulators.wechatpay.models import WxContract, WxTrade
from payments.exceptions import ChannelUnavailable, InvalidNotification
from payments.gateways import get_gateway
from payments.gateways.base import NotificationKind, TradeState
from payments.gateways.wechatpay import WeChatPayGateway, v2
from payments.gateways.withholding import AgreementState, supports_withholding
from tests.gateways.test_wechatpay_contract import APPID, MCHID, configure_wechatpay, wechatpay_config

PLAN_ID = "12535"
DOC_KEY = "192006250b4c09247ec02edce69f6a2d"
DOC_PARAMS = {
    "appid": "wxd930ea5d5a258f4f",
    "mch_id": "10000100",
    "device_info": "1000",
    "body": "test",
    "nonce_str": "ibuaiVcKdpRxkhJA",
}

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><return_code>&lol3;</return_code></xml>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><return_code>&xxe;</return_code></xml>"""


def papay_config(settings, **options) -> dict:
    material = ensure_dev_material(settings.KPAY_KEY_DIR)
    return wechatpay_config(settings, v2_key_path=str(material.v2_key_path), papay_plan_id=PLAN_ID, **options)


@pytest.fixture(autouse=True)
def _papay_configured(settings):
    configure_wechatpay(settings, papay_config(settings))


def v2_key(settings) -> str:
    return ensure_dev_material(settings.KPAY_KEY_DIR).v2_key


# -- the signature ----------------------------------------------------------------------------
def test_the_official_vector_md5_and_hmac_sha256():
    """安全规范 (pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=4_3), as the SDKs quote it."""
    assert v2.sign(DOC_PARAMS, DOC_KEY, v2.MD5) == "9A0A8659F005D6984697E2CA0A9CF3B7"
    assert (
        v2.sign(DOC_PARAMS, DOC_KEY, v2.HMAC_SHA256)
        == "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # Request signatures an independent SDK (shenghui0779/gochat, mch/pappay_test.go)
        # expects for papay calls with the documents' key: Chinese values, UTF-8.
        (
            {
                "appid": "wx2421b1c4370ec43b",
                "mch_id": "10000100",
                "contract_id": "201509160000028648",
                "version": "1.0",
            },
            "D23A52B839DA39302E746FBB1D0E4F7D",
        ),
        (
            {
                "appid": "wx2421b1c4370ec43b",
                "mch_id": "10000100",
                "out_trade_no": "217752501201407033233368018",
                "body": "水电代扣",
                "total_fee": "888",
                "fee_type": "CNY",
                "spbill_create_ip": "8.8.8.8",
                "notify_url": "http://yoursite.com/wxpay.html",
                "trade_type": "PAP",
                "contract_id": "Wx15463511252015071056489715",
                "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
            },
            "94AD0747C8E32D815623D89A051F7DE8",
        ),
        (
            {
                "appid": "wx2421b1c4370ec43b",
                "mch_id": "10000100",
                "contract_id": "100005698",
                "contract_termination_remark": "原因",
                "version": "1.0",
            },
            "5E8C697575CC65D77BBE96B5BB39916E",
        ),
    ],
)
def test_independent_sdk_vectors(params, expected):
    assert v2.sign(params, DOC_KEY, v2.MD5) == expected


def test_sign_leaves_out_sign_and_empty_values_and_signs_sign_type():
    base = {"b": "2", "a": "1", "empty": "", "sign": "XYZ"}
    assert v2.string_to_sign(base, "K") == "a=1&b=2&key=K"
    with_type = {**base, "sign_type": v2.HMAC_SHA256}
    expected = hmac.new(b"K", b"a=1&b=2&sign_type=HMAC-SHA256&key=K", hashlib.sha256).hexdigest().upper()
    assert v2.sign(with_type, "K", v2.HMAC_SHA256) == expected
    md5 = hashlib.md5(b"a=1&b=2&key=K").hexdigest().upper()  # noqa: S324  (the protocol's MD5)
    assert v2.sign(base, "K") == md5


def test_verify_is_by_the_declared_type_or_the_length_and_refuses_tampering():
    message = v2.signed({"a": "1", "b": "中文"}, "K", v2.HMAC_SHA256)
    assert len(message["sign"]) == 64 and v2.verify(message, "K")
    assert not v2.verify(message, "other key")
    assert not v2.verify({**message, "b": "中"}, "K")
    assert not v2.verify({**message, "sign_type": "RSA"}, "K")  # an unknown declared type
    assert not v2.verify({**message, "sign": message["sign"].lower()}, "K")
    assert not v2.verify({"a": "1"}, "K")  # no sign at all
    md5 = v2.signed({"a": "1"}, "K")
    assert len(md5["sign"]) == 32 and v2.verify(md5, "K")
    assert not v2.verify(md5, "K", expected=v2.HMAC_SHA256)  # we asked for HMAC: an MD5 is wrong


# -- XML --------------------------------------------------------------------------------------
def test_xml_round_trip_with_cdata_and_awkward_values():
    fields = {"body": "会员 <年费> & ]]> 续费", "total_fee": "9900", "empty": ""}
    assert v2.parse_xml(v2.to_xml(fields)) == fields


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        b"<xml><a>1</a>",  # not well-formed
        b"",
        b"not xml at all",
        b"<root><a>1</a></root>",  # not <xml>
        b"<xml><a><b>1</b></a></xml>",  # nested
        b'<xml><a x="1">1</a></xml>',  # attributes
        b"<xml><a>1</a><a>2</a></xml>",  # a field twice
        b"<xml><a>" + b"x" * (v2.MAX_MESSAGE_BYTES + 1) + b"</a></xml>",  # oversized
        b"<xml>"
        + b"<a>1</a>" * 0
        + b"".join(b"<f%d>1</f%d>" % (i, i) for i in range(v2.MAX_FIELDS + 1))
        + b"</xml>",
    ],
)
def test_unacceptable_xml_is_refused(body):
    with pytest.raises(v2.MalformedMessage):
        v2.parse_xml(body)


def test_the_display_account_has_no_four_byte_characters():
    from payments.gateways.wechatpay import papay

    assert papay._display_account("会员 🎓 Annual") == "会员  Annual"
    assert len(papay._display_account("x" * 100)) == 32
    assert papay._trim_bytes("会员续费", 7) == "会员"  # whole characters within the byte limit


def test_redaction_of_sign_in_xml_and_query_strings():
    xml = v2.to_xml(v2.signed({"a": "1"}, "K")).decode()
    redacted = v2.redact(xml)
    assert "<sign>[redacted]</sign>" in redacted
    assert v2.signed({"a": "1"}, "K")["sign"] not in redacted
    assert v2.redact("https://x/papay/entrustweb?a=1&sign=ABCDEF&version=1.0") == (
        "https://x/papay/entrustweb?a=1&sign=[redacted]&version=1.0"
    )


# -- the backend's configuration and rules ------------------------------------------------------
def test_the_backend_is_a_withholding_backend_with_wechat_rules(settings):
    gateway = get_gateway("wechatpay")
    assert supports_withholding(gateway)
    assert gateway.withholding_channels == ("wechat_papay",)
    rules = gateway.withholding_rules
    assert rules.charge_hours == (time(7, 0), time(22, 0))
    assert (rules.timezone, rules.notice_days, rules.charge_window_days) == ("Asia/Shanghai", 2, 7)
    assert rules.max_amount == 50000
    # The learner-facing payment channels do not include the withholding one.
    assert "wechat_papay" not in WeChatPayGateway.channels


def test_without_papay_options_the_instance_cannot_withhold(settings):
    configure_wechatpay(settings, wechatpay_config(settings))
    gateway = get_gateway("wechatpay")
    assert gateway.withholding_channels == ()
    with pytest.raises(ChannelUnavailable):
        gateway.query_charge("P1")


def test_check_options_wants_both_halves(settings):
    options = papay_config(settings)["OPTIONS"]
    assert WeChatPayGateway.check_options(options) == []
    no_plan = {k: v for k, v in options.items() if k != "papay_plan_id"}
    assert any("both" in p for p in WeChatPayGateway.check_options(no_plan))
    no_key = {k: v for k, v in options.items() if k != "v2_key_path"}
    assert any("both" in p for p in WeChatPayGateway.check_options(no_key))
    bad = {**no_key, "v2_key": "short", "papay_plan_id": "plan", "papay_max_amount": 0}
    problems = " ".join(WeChatPayGateway.check_options(bad))
    assert "32-character" in problems and "numeric" in problems and "papay_max_amount" in problems
    missing_file = {**options, "v2_key_path": "/nonexistent/v2.key"}
    assert any("no file" in p for p in WeChatPayGateway.check_options(missing_file))


# -- notifications, built by the simulator's own functions ----------------------------------------
def _contract(**changes) -> WxContract:
    from django.utils import timezone

    fields = {
        "mchid": MCHID,
        "appid": APPID,
        "plan_id": PLAN_ID,
        "contract_code": "A123",
        "request_serial": "1000",
        "contract_display_account": "learner",
        "notify_url": "http://127.0.0.1:9/n",
        "token": "t",
        "state": WxContract.State.SIGNED,
        "contract_id": "202601010000000001",
        "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "signed_at": timezone.now(),
        "expires_at": timezone.now(),
        "terminated_at": timezone.now(),
        **changes,
    }
    return WxContract(**fields)


def test_contract_notifications_parse(settings):
    gateway = get_gateway("wechatpay")
    added = gateway.parse_agreement_notification({}, simulator.contract_notification_body(_contract(), "ADD"))
    assert (added.state, added.agreement_no, added.gateway_agreement_id) == (
        AgreementState.ACTIVE,
        "A123",
        "202601010000000001",
    )
    assert added.event_id == "202601010000000001-ADD" and not added.by_payer
    assert dict(added.merchant_ids) == dict(gateway.merchant_ids)
    assert added.occurred_at is not None and added.occurred_at.utcoffset().total_seconds() == 8 * 3600

    by_payer = _contract(termination_mode="2", state=WxContract.State.TERMINATED)
    ended = gateway.parse_agreement_notification({}, simulator.contract_notification_body(by_payer, "DELETE"))
    assert ended.state == AgreementState.TERMINATED and ended.by_payer
    by_api = _contract(termination_mode="3", state=WxContract.State.TERMINATED)
    assert not gateway.parse_agreement_notification(
        {}, simulator.contract_notification_body(by_api, "DELETE")
    ).by_payer


def _resign(body: bytes, key: str, **changes) -> bytes:
    fields = {**v2.parse_xml(body), **changes}
    return v2.to_xml(v2.signed(fields, key))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda body, key: body.replace(b"ADD", b"DELETE"),  # tampered, sign kept
        lambda body, key: _resign(body, "k" * 32),  # signed with another key
        lambda body, key: _resign(body, key, plan_id="999"),  # another template
        lambda body, key: _resign(body, key, change_type="MODIFY"),
        lambda body, key: _resign(body, key, operate_time="yesterday"),
        lambda body, key: _resign(body, key, result_code="FAIL"),
        lambda body, key: BILLION_LAUGHS,
        lambda body, key: EXTERNAL_ENTITY,
        lambda body, key: b"<xml><sign>",
    ],
)
def test_contract_notifications_that_are_refused(settings, mangle):
    gateway = get_gateway("wechatpay")
    body = simulator.contract_notification_body(_contract(), "ADD")
    with pytest.raises(InvalidNotification):
        gateway.parse_agreement_notification({}, mangle(body, v2_key(settings)))


def test_a_charge_success_notification_parses_and_tampering_is_refused(settings):
    gateway = get_gateway("wechatpay")
    from django.utils import timezone

    trade = WxTrade(
        mchid=MCHID,
        appid=APPID,
        out_trade_no="P260101ABCDEFGHIJKLM",
        amount=9900,
        currency="CNY",
        state=WxTrade.State.SUCCESS,
        transaction_id="4200000000000000000001",
        success_time=timezone.now(),
        payer_openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        request_body={"sign_type": v2.HMAC_SHA256},
        contract=_contract(),
    )
    body = simulator.pay_notification_body(trade)
    notification = gateway.parse_charge_notification({}, body)
    assert notification.kind == NotificationKind.PAYMENT and notification.state == TradeState.SUCCEEDED
    assert (notification.trade_no, notification.amount, notification.currency) == (
        trade.out_trade_no,
        9900,
        "CNY",
    )
    assert notification.gateway_txn_id == trade.transaction_id == notification.event_id
    assert dict(notification.merchant_ids) == dict(gateway.merchant_ids)
    assert "sign" not in notification.payload
    with pytest.raises(InvalidNotification):
        gateway.parse_charge_notification({}, body.replace(b"9900", b"1"))
    with pytest.raises(InvalidNotification):
        gateway.parse_charge_notification({}, _resign(body, v2_key(settings), total_fee="99.00"))


def test_the_reply_is_the_documented_xml():
    gateway = get_gateway("wechatpay")
    ok = gateway.charge_notification_reply(ok=True)
    assert ok.status == 200 and v2.parse_xml(ok.body) == {"return_code": "SUCCESS", "return_msg": "OK"}
    assert (
        ok.body
        == b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
    )
    refused = gateway.agreement_notification_reply(ok=False, message="bad signature")
    assert refused.status == 400 and v2.parse_xml(refused.body)["return_code"] == "FAIL"
