"""Issue 11, "Bad input never reaches a 500": each case through HTTP, answered 4xx in the
usual shape (the API's error object, the gateway's own reply), with nothing written."""

import json
import secrets

import pytest
from django.urls import reverse

from courses.models import Enrollment
from orders.models import Order
from orders.services import order_checkout
from payments.models import GatewayEvent, Payment, Refund
from payments.services import payment_start
from tests.gateways.test_wechatpay_contract import (
    _wechatpay_configured,  # noqa: F401 (autouse here too)
    django_headers,
    success_notification,
)

DEEP = 100_000


def deep_json(depth: int = DEEP) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_object(depth: int = DEEP) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


# -- JSON nested 100,000 deep ---------------------------------------------------------
@pytest.mark.parametrize("body", [deep_json(), deep_object()], ids=["array", "object"])
def test_deep_json_on_the_unauthenticated_token_endpoint_is_a_400(api_client, learner, body):
    response = api_client.post("/api/v1/auth/token/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/orders/", "/api/v1/orders/K1/pay/", "/api/v1/orders/K1/refunds/", "/api/v1/orders/K1/cancel/"],
)
def test_deep_json_on_any_api_post_is_a_400(api_client, learner, path):
    api_client.force_authenticate(learner)
    response = api_client.post(path, data=deep_json(), content_type="application/json")
    assert response.status_code in (400, 404)  # cancel reads no body: its order does not exist
    assert "error" in response.json()
    if path != "/api/v1/orders/K1/cancel/":
        assert response.json()["error"]["code"] == "parse_error"
    assert not Order.objects.exists()


def test_deep_json_with_an_idempotency_key_leaves_the_key_free(api_client, learner, course):
    api_client.force_authenticate(learner)
    headers = {"HTTP_IDEMPOTENCY_KEY": "deep-1"}
    bad = api_client.post("/api/v1/orders/", data=deep_json(), content_type="application/json", **headers)
    assert bad.status_code == 400
    good = api_client.post(
        "/api/v1/orders/",
        data=json.dumps({"course": course.slug}),
        content_type="application/json",
        **headers,
    )
    assert (good.status_code == 409 and good.json()["error"]["code"] == "idempotency_key_reused") or (
        good.status_code == 201
    )


# -- webhook timestamp headers -----------------------------------------------------------
BAD_TIMESTAMPS = ["¹²³⁴⁵⁶⁷⁸⁹⁰", "9" * 5000, "１７００００００００", "-1700000000", " 1700000000", "17e8"]


@pytest.fixture
def sandbox_payment(learner, course, sandbox):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    return payment_start(learner=learner, order_no=order.order_no, channel="sandbox")


@pytest.mark.parametrize("timestamp", BAD_TIMESTAMPS)
def test_a_sandbox_timestamp_that_is_not_ascii_digits_is_refused(sandbox, sandbox_payment, timestamp):
    body = sandbox.trade_event(sandbox_payment)
    response = sandbox.post(body, sandbox.headers(body, **{"Sandbox-Timestamp": timestamp}))
    assert response.status_code == 400
    assert response.json()["code"] == "FAIL"
    assert Payment.objects.get(pk=sandbox_payment.pk).status == Payment.Status.PENDING
    assert not GatewayEvent.objects.exists()


@pytest.fixture
def wechat_payment(live_simulators, learner, course):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    return payment_start(learner=learner, order_no=order.order_no, channel="wechat_native")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("timestamp", BAD_TIMESTAMPS)
def test_a_wechatpay_timestamp_that_is_not_ascii_digits_is_refused(client, wechat_payment, timestamp):
    body, headers = success_notification(wechat_payment)
    headers["Wechatpay-Timestamp"] = timestamp
    response = client.post(
        "/payments/webhooks/wechatpay/", data=body, content_type="application/json", **django_headers(headers)
    )
    assert response.status_code == 400
    assert response.json()["code"] == "FAIL"
    assert Payment.objects.get(pk=wechat_payment.pk).status == Payment.Status.PENDING
    assert not GatewayEvent.objects.exists()


# -- verified notifications with the wrong JSON types ---------------------------------------
def _sandbox_event(payment, sandbox, mutate) -> bytes:
    event = json.loads(sandbox.trade_event(payment))
    mutate(event)
    return json.dumps(event).encode()


WRONG_TYPES = {
    "event_type a number": lambda e: e.update(event_type=5),
    "event_type null": lambda e: e.update(event_type=None),
    "resource a list": lambda e: e.update(resource=[1, 2]),
    "resource a string": lambda e: e.update(resource="x"),
    "resource missing": lambda e: e.pop("resource"),
    "id missing": lambda e: e.pop("id"),
    "id a number": lambda e: e.update(id=12345),
    "id an object": lambda e: e.update(id={"a": 1}),
    "out_trade_no a number": lambda e: e["resource"].update(out_trade_no=12345),
    "amount a list": lambda e: e["resource"].update(amount=[9900]),
    "total a string": lambda e: e["resource"]["amount"].update(total="lots"),
    "total a bool": lambda e: e["resource"]["amount"].update(total=True),
    "total huge": lambda e: e["resource"]["amount"].update(total=10**30),
    "currency a number": lambda e: e["resource"]["amount"].update(currency=156),
    "payer a list": lambda e: e["resource"].update(payer=["x"]),
    "merchant_id a number": lambda e: e["resource"].update(merchant_id=7),
    "success_time a number": lambda e: e["resource"].update(success_time=5),
    "refund resource a list": lambda e: e.update(event_type="REFUND.SUCCESS", resource=[]),
    "every field missing": dict.clear,
}


@pytest.mark.parametrize("mutate", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_a_verified_sandbox_notification_with_wrong_types_is_a_400_and_writes_nothing(
    sandbox, sandbox_payment, mutate
):
    body = _sandbox_event(sandbox_payment, sandbox, mutate)
    response = sandbox.post(body, sandbox.headers(body))  # signed: it passes verification
    assert response.status_code == 400
    assert response.json()["code"] == "FAIL"
    assert Payment.objects.get(pk=sandbox_payment.pk).status == Payment.Status.PENDING
    assert not GatewayEvent.objects.exists()
    assert not Enrollment.objects.exists()


def test_a_verified_sandbox_notification_that_is_a_json_list_is_a_400(sandbox, sandbox_payment):
    body = b"[1, 2, 3]"
    assert sandbox.post(body, sandbox.headers(body)).status_code == 400
    assert not GatewayEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "change",
    [{"out_trade_no": 123}, {"amount": [1]}, {"mchid": 5}, {"trade_state": ["SUCCESS"]}, {"payer": "x"}],
    ids=["out_trade_no", "amount", "mchid", "trade_state", "payer"],
)
def test_a_verified_wechatpay_notification_with_wrong_types_is_a_400(client, wechat_payment, change):
    from devtools.simulators.wechatpay import views as simulator
    from devtools.simulators.wechatpay.models import WxTrade

    trade = WxTrade.objects.get(out_trade_no=wechat_payment.payment_no)
    plaintext = simulator.transaction_plaintext(trade) | {"trade_state": "SUCCESS"} | change
    body = simulator.notification_body("TRANSACTION.SUCCESS", plaintext)
    response = client.post(
        "/payments/webhooks/wechatpay/",
        data=body,
        content_type="application/json",
        **django_headers(simulator.sign_headers(body, trade.key_mode)),
    )
    assert response.status_code == 400
    assert Payment.objects.get(pk=wechat_payment.pk).status == Payment.Status.PENDING
    assert not GatewayEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_verified_wechatpay_notification_whose_event_type_is_a_number_is_a_400(client, wechat_payment):
    from devtools.simulators.wechatpay import views as simulator
    from devtools.simulators.wechatpay.models import WxTrade

    trade = WxTrade.objects.get(out_trade_no=wechat_payment.payment_no)
    event = json.loads(
        simulator.notification_body("TRANSACTION.SUCCESS", simulator.transaction_plaintext(trade))
    )
    for wrong in (5, None, ["TRANSACTION.SUCCESS"]):
        event["event_type"] = wrong
        event["id"] = secrets.token_hex(8)
        body = json.dumps(event).encode()
        response = client.post(
            "/payments/webhooks/wechatpay/",
            data=body,
            content_type="application/json",
            **django_headers(simulator.sign_headers(body, trade.key_mode)),
        )
        assert response.status_code == 400, wrong
    assert not GatewayEvent.objects.exists()


# -- the site's refund form -----------------------------------------------------------------
@pytest.mark.parametrize(
    "amount",
    ["1e26", "1E+26", "9" * 5000, "99999999999999999999.99", "-1", "0", "NaN", "Infinity", "1e-26", "１"],
)
def test_a_huge_or_odd_refund_amount_on_the_site_is_a_message(client, learner, course, sandbox, amount):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    assert sandbox.pay(payment).status_code == 204
    client.force_login(learner)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    response = client.post(
        reverse("payments:refund-request", args=[order.order_no]), {"amount": amount, "reason": "odd amount"}
    )

    if amount == "１":  # a full-width 1: one yuan, a valid partial refund
        assert response.status_code == 302
        assert Refund.objects.get().amount == 100
        return
    assert response.status_code == 200
    assert not Refund.objects.exists()
    assert Payment.objects.get(pk=payment.pk).refund_reserved == 0


def test_a_huge_refund_amount_in_the_api_is_a_400(api_client, learner, course, sandbox):
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    assert sandbox.pay(payment).status_code == 204
    api_client.force_authenticate(learner)
    for amount in (10**26, -(10**26), "1e26", 1.5):
        response = api_client.post(
            f"/api/v1/orders/{order.order_no}/refunds/", {"amount": amount, "reason": "odd"}, format="json"
        )
        assert 400 <= response.status_code < 500, amount
        assert "error" in response.json()
    assert not Refund.objects.exists()
