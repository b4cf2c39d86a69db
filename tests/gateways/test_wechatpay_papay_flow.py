"""WeChat Pay papay (委托代扣) against its simulator over real HTTP on loopback: signing
on the entrustweb page, contract notifications, query, the v3 pre-charge notice, charges
with their v2 notifications through kpay's withholding webhook, dunning, termination from
both sides, and refusals in both directions (bad signatures, XML bombs)."""

import re
import secrets
from datetime import datetime, timedelta

import httpx
import pytest
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from devtools.simulators.models import SimNotification
from devtools.simulators.wechatpay import papay as simulator
from devtools.simulators.wechatpay.models import WxContract, WxTrade
from orders.models import Order
from orders.numbers import new_public_number
from orders.services import order_checkout
from payments.exceptions import GatewayRejected, InvalidNotification, InvalidResponse
from payments.gateways import get_gateway
from payments.gateways.base import TradeState
from payments.gateways.wechatpay import v2
from payments.gateways.withholding import (
    AgreementRequest,
    AgreementState,
    ChargeNotice,
    ChargeRequest,
    PeriodUnit,
)
from payments.models import GatewayEvent, GatewayExchange, Payment
from tests.cashier import wait_for
from tests.gateways.test_wechatpay_contract import APPID, MCHID, configure_wechatpay
from tests.gateways.test_wechatpay_papay_protocol import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    PLAN_ID,
    papay_config,
    v2_key,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

# -- an agreement notification endpoint for the tests (memberships owns the real one) ----------
RECEIVED: list = []


@csrf_exempt
def agreement_webhook(request, alias):
    gateway = get_gateway(alias)
    try:
        notification = gateway.parse_agreement_notification(request.headers, request.body)
    except InvalidNotification as exc:
        reply = gateway.agreement_notification_reply(ok=False, message=exc.message)
    else:
        RECEIVED.append(notification)
        reply = gateway.agreement_notification_reply(ok=True)
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)


urlpatterns = [
    path("test-agreements/<str:alias>/", agreement_webhook),
    path("", include("kpay.urls")),
]


@pytest.fixture(autouse=True)
def _papay_configured(settings):
    """Autouse, so it runs before ``live_simulators`` rewrites the closed loopback URL."""
    configure_wechatpay(settings, papay_config(settings))
    RECEIVED.clear()


BEIJING_TODAY = datetime.now(v2.BEIJING).date()


def at(settings, day_offset: int, hour: int = 10) -> None:
    """Set the simulator's clock: Beijing ``hour``:00 on today + ``day_offset``."""
    day = BEIJING_TODAY + timedelta(days=day_offset)
    settings.KPAY_SIMULATOR_PAPAY_NOW = datetime(day.year, day.month, day.day, hour, tzinfo=v2.BEIJING)


def agreement_request(live_server, agreement_no=None, amount=9900) -> AgreementRequest:
    return AgreementRequest(
        agreement_no=agreement_no or f"A{secrets.token_hex(8).upper()}",
        channel="wechat_papay",
        description="Annual membership of Demo Studio 🎓 会员",
        amount=amount,
        currency="CNY",
        period_unit=PeriodUnit.MONTH,
        period=1,
        first_charge_on=BEIJING_TODAY,
        notify_url=f"{live_server.url}/test-agreements/wechatpay/",
        return_url=f"{live_server.url}/memberships/",
    )


def payer_presses(url: str, action: str, *, referer: str = "") -> httpx.Response:
    """Open the page (entrustweb or the contract's) and press ``action`` on it."""
    with httpx.Client(timeout=10) as browser:
        page = browser.get(url, headers={"Referer": referer} if referer else {})
        assert page.status_code == 200, page.text[:300]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        target = re.search(r'<form method="post" action="([^"]+)"', page.text)[1]
        target_url = str(httpx.URL(url).join(target))
        return browser.post(
            target_url, data={"csrfmiddlewaretoken": token, "action": action}, headers={"Referer": target_url}
        )


def signed_agreement(live_server, settings, day_offset=-1):
    """Sign an agreement at the simulator (on day ``day_offset``) and return the request
    and the parsed ADD notification."""
    at(settings, day_offset)
    gateway = get_gateway("wechatpay")
    request = agreement_request(live_server)
    action = gateway.agreement_sign(request)
    assert action.kind == "redirect"
    answer = payer_presses(action.redirect_url, "sign", referer=f"{live_server.url}/memberships/")
    assert answer.status_code == 200 and "Signed" in answer.text
    assert wait_for(lambda: any(n.agreement_no == request.agreement_no for n in RECEIVED))
    added = next(n for n in RECEIVED if n.agreement_no == request.agreement_no)
    return request, added


def contract_page_url(live_server, agreement_no) -> str:
    token = WxContract.objects.get(contract_code=agreement_no).token
    return f"{live_server.url}/simulators/wechatpay/papay/contracts/{token}/"


def charge_payment(learner, course) -> Payment:
    """An order and the payment a renewal charge pays it with."""
    order = order_checkout(learner=learner, course_slug=course.slug).order
    return Payment.objects.create(
        payment_no=new_public_number("P"),
        order=order,
        merchant_id=order.merchant_id,
        channel="wechat_papay",
        gateway="wechatpay",
        amount=order.total,
        currency=order.currency,
        expires_at=order.expires_at,
    )


def charge_request(live_server, payment, contract_id) -> ChargeRequest:
    return ChargeRequest(
        payment_no=payment.payment_no,
        gateway_agreement_id=contract_id,
        amount=payment.amount,
        currency=payment.currency,
        description="Membership renewal 会员续费",
        notify_url=f"{live_server.url}/payments/webhooks/wechatpay/withholding/",
    )


# -- the whole flow -----------------------------------------------------------------------------
def test_sign_notice_charge_and_payer_termination(live_simulators, settings, learner, course):
    gateway = get_gateway("wechatpay")
    request, added = signed_agreement(live_simulators, settings, day_offset=-1)
    assert added.state == AgreementState.ACTIVE and added.payer_id.startswith("o")
    contract_id = added.gateway_agreement_id
    contract = WxContract.objects.get(contract_id=contract_id)
    assert contract.contract_display_account == "Annual membership of Demo Studio"  # 32 characters at most
    assert contract.return_url == f"{live_simulators.url}/memberships/"  # return_web=1: the referrer

    status = gateway.agreement_query(request.agreement_no)
    assert (status.state, status.gateway_agreement_id, status.payer_id) == (
        AgreementState.ACTIVE,
        contract_id,
        added.payer_id,
    )
    assert status.signed_at is not None and dict(status.merchant_ids) == dict(gateway.merchant_ids)

    payment = charge_payment(learner, course)
    charge = charge_request(live_simulators, payment, contract_id)

    at(settings, 0)  # a day after signing: no 12-hour grace, a notice is needed
    with pytest.raises(GatewayRejected, match="预扣费通知") as refused:
        gateway.charge(charge)
    assert refused.value.gateway_code == "INVALID_REQUEST"

    gateway.charge_notice(
        ChargeNotice(
            gateway_agreement_id=contract_id,
            amount=payment.amount,
            currency="CNY",
            charge_on=BEIJING_TODAY + timedelta(days=2),
        )
    )
    at(settings, 1)  # the waiting period (the notice's day and the next)
    with pytest.raises(GatewayRejected, match="等待期"):
        gateway.charge(charge)
    at(settings, 2, hour=23)  # in the window, but at night
    with pytest.raises(GatewayRejected, match="7:00~22:00"):
        gateway.charge(charge)
    assert not WxTrade.objects.filter(out_trade_no=payment.payment_no).exists()

    at(settings, 2, hour=10)
    accepted = gateway.charge(charge)
    assert accepted.state == TradeState.PENDING
    assert wait_for(lambda: Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED)
    payment.refresh_from_db()
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.FULFILLED
    assert GatewayEvent.objects.get(payment=payment).event_id == payment.gateway_txn_id

    again = gateway.charge(charge)  # the same payment number: never charged twice
    assert again.state == TradeState.SUCCEEDED and again.gateway_txn_id == payment.gateway_txn_id
    assert WxTrade.objects.filter(out_trade_no=payment.payment_no).count() == 1
    assert SimNotification.objects.filter(gateway=simulator.PAY_GATEWAY).count() == 1
    queried = gateway.query_charge(payment.payment_no)
    assert (queried.state, queried.amount, queried.gateway_txn_id) == (
        TradeState.SUCCEEDED,
        payment.amount,
        payment.gateway_txn_id,
    )
    assert gateway.query_charge(f"P{secrets.token_hex(6).upper()}").state == TradeState.NOT_FOUND

    # One successful charge per cycle: another payment in the same window is refused.
    other = charge_payment(learner, course_with_other_slug(course))
    with pytest.raises(GatewayRejected, match="预扣费通知"):
        gateway.charge(charge_request(live_simulators, other, contract_id))

    # The payer ends it in their wallet: a DELETE notification, by the payer.
    assert (
        payer_presses(contract_page_url(live_simulators, request.agreement_no), "terminate").status_code
        == 200
    )
    assert wait_for(lambda: any(n.state == AgreementState.TERMINATED for n in RECEIVED))
    ended = next(n for n in RECEIVED if n.state == AgreementState.TERMINATED)
    assert ended.by_payer and ended.gateway_agreement_id == contract_id
    assert ended.event_id == f"{contract_id}-DELETE"
    status = gateway.agreement_query(request.agreement_no)
    assert status.state == AgreementState.TERMINATED and status.terminated_at is not None
    gateway.agreement_terminate(
        agreement_no=request.agreement_no, gateway_agreement_id=contract_id, reason="x"
    )

    # Every notification was acknowledged; no exchange kept a key or a signature.
    assert not SimNotification.objects.filter(delivered_at__isnull=True).exists()
    key = v2_key(settings)
    exchanges = list(GatewayExchange.objects.filter(gateway="wechatpay"))
    assert {"charge", "charge_notice", "query_charge", "agreement_query", "agreement_terminate"} <= {
        e.operation for e in exchanges
    }
    for exchange in exchanges:
        text = exchange.url + exchange.request_body + exchange.response_body
        assert key not in text
        assert not re.search(r"<sign>(?!\[redacted\])", text), text[:300]
        if exchange.operation != "charge_notice":
            assert "<sign>[redacted]</sign>" in exchange.request_body


def course_with_other_slug(course):
    from tests.factories import CourseFactory

    return CourseFactory(price=course.price, merchant=course.merchant)


def test_merchant_termination_and_a_contract_never_signed(live_simulators, settings):
    gateway = get_gateway("wechatpay")
    request, added = signed_agreement(live_simulators, settings, day_offset=0)
    gateway.agreement_terminate(agreement_no=request.agreement_no, gateway_agreement_id="", reason="会员取消")
    assert wait_for(lambda: any(n.state == AgreementState.TERMINATED for n in RECEIVED))
    ended = next(n for n in RECEIVED if n.state == AgreementState.TERMINATED)
    assert not ended.by_payer  # mode 3: the merchant's API
    contract = WxContract.objects.get(contract_id=added.gateway_agreement_id)
    assert (contract.termination_mode, contract.termination_remark) == ("3", "会员取消")
    gateway.agreement_terminate(  # ended already: fine
        agreement_no=request.agreement_no, gateway_agreement_id=added.gateway_agreement_id, reason="again"
    )

    declined = agreement_request(live_simulators)
    answer = payer_presses(gateway.agreement_sign(declined).redirect_url, "decline")
    assert answer.status_code == 200 and "Declined" in answer.text
    assert gateway.agreement_query(declined.agreement_no).state == AgreementState.NOT_FOUND
    gateway.agreement_terminate(agreement_no=declined.agreement_no, gateway_agreement_id="", reason="x")


def test_first_charge_within_twelve_hours_needs_no_notice_and_dunning(
    live_simulators, settings, learner, course
):
    gateway = get_gateway("wechatpay")
    request, added = signed_agreement(live_simulators, settings, day_offset=0)
    contract_id = added.gateway_agreement_id
    page = contract_page_url(live_simulators, request.agreement_no)
    assert "余额不足" in payer_presses(page, "balance_fail").text

    payment = charge_payment(learner, course)
    charge = charge_request(live_simulators, payment, contract_id)
    assert gateway.charge(charge).state == TradeState.PENDING  # within 12 h of signing: no notice
    assert wait_for(lambda: Payment.objects.get(pk=payment.pk).status == Payment.Status.FAILED)
    event = GatewayEvent.objects.get(payment=payment)
    assert event.event_type == "PAP.FAIL" and event.payload["err_code"] == "NOTENOUGH"
    assert gateway.query_charge(payment.payment_no).state == TradeState.FAILED

    payer_presses(page, "balance_ok")
    assert gateway.charge(charge).state == TradeState.PENDING  # the same number, retried
    assert wait_for(lambda: Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED)


def test_the_hour_rule_can_be_switched_off_and_caps_hold(live_simulators, settings, learner, course):
    gateway = get_gateway("wechatpay")
    _request, added = signed_agreement(live_simulators, settings, day_offset=-1)
    contract_id = added.gateway_agreement_id
    at(settings, 0)
    gateway.charge_notice(
        ChargeNotice(
            gateway_agreement_id=contract_id,
            amount=100,
            currency="CNY",
            charge_on=BEIJING_TODAY + timedelta(days=2),
        )
    )
    payment = charge_payment(learner, course)  # 9900 fen: above the notified 100
    at(settings, 2, hour=23)
    settings.KPAY_SIMULATOR_PAPAY_ENFORCE_HOURS = False
    with pytest.raises(GatewayRejected) as above_notice:
        gateway.charge(charge_request(live_simulators, payment, contract_id))
    assert above_notice.value.gateway_code == "INVALID_REQUEST"
    settings.KPAY_SIMULATOR_PAPAY_MAX_AMOUNT = 50
    with pytest.raises(GatewayRejected) as above_cap:
        gateway.charge(charge_request(live_simulators, payment, contract_id))
    assert above_cap.value.gateway_code == "RULELIMIT"
    del settings.KPAY_SIMULATOR_PAPAY_MAX_AMOUNT

    gateway.charge_notice(  # a new notice for the full amount, at 23:00 with the hour rule off
        ChargeNotice(
            gateway_agreement_id=contract_id,
            amount=9900,
            currency="CNY",
            charge_on=BEIJING_TODAY + timedelta(days=2),
        )
    )
    at(settings, 4, hour=23)
    assert gateway.charge(charge_request(live_simulators, payment, contract_id)).state == TradeState.PENDING
    assert wait_for(lambda: Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED)

    with pytest.raises(GatewayRejected):  # the client refuses a charge date no notice sent today covers
        gateway.charge_notice(
            ChargeNotice(
                gateway_agreement_id=contract_id, amount=9900, currency="CNY", charge_on=BEIJING_TODAY
            )
        )


# -- refusals, both ways ---------------------------------------------------------------------------
def test_the_simulator_refuses_bad_signatures_and_bombs(live_simulators, settings):
    url = f"{live_simulators.url}/simulators/wechatpay/pay/pappayapply"
    message = {
        "appid": APPID,
        "mch_id": MCHID,
        "nonce_str": v2.new_nonce(),
        "out_trade_no": "P1",
        "total_fee": "1",
    }
    for body in (
        v2.to_xml(v2.signed(message, "x" * 32)),  # another key
        v2.to_xml({**v2.signed(message, v2_key(settings)), "total_fee": "2"}),  # tampered
        v2.to_xml(v2.signed({**message, "sign_type": "RSA"}, v2_key(settings))),
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        b"<xml>",
    ):
        answer = httpx.post(url, content=body, headers={"Content-Type": "text/xml"}, timeout=10)
        assert answer.status_code == 200
        assert v2.parse_xml(answer.content)["return_code"] == "FAIL"

    # deletecontract is MD5 only ("签名方式: MD5").
    delete = {
        "appid": APPID,
        "mch_id": MCHID,
        "contract_id": "1",
        "version": "1.0",
        "sign_type": v2.HMAC_SHA256,
    }
    answer = httpx.post(
        f"{live_simulators.url}/simulators/wechatpay/papay/deletecontract",
        content=v2.to_xml(v2.signed(delete, v2_key(settings), v2.HMAC_SHA256)),
        timeout=10,
    )
    assert v2.parse_xml(answer.content)["return_code"] == "FAIL"

    # entrustweb with a bad sign shows the signing error, not a contract.
    gateway = get_gateway("wechatpay")
    good = gateway.agreement_sign(agreement_request(live_simulators)).redirect_url
    tampered = good.replace("plan_id=12535", "plan_id=12536")
    assert httpx.get(tampered, timeout=10).status_code == 400
    assert not WxContract.objects.exists()


class _Tamper(httpx.BaseTransport):
    """Passes requests to the real transport and alters the answers."""

    def __init__(self, change):
        self._inner, self._change = httpx.HTTPTransport(), change

    def handle_request(self, request):
        response = self._inner.handle_request(request)
        response.read()
        return httpx.Response(
            response.status_code, headers=response.headers, content=self._change(response.content)
        )


@pytest.mark.parametrize(
    "change",
    [
        lambda body: body.replace(
            b"<contract_state>0</contract_state>", b"<contract_state>1</contract_state>"
        ),
        lambda body: BILLION_LAUGHS,
        lambda body: b"<xml><return_code>",
        lambda body: re.sub(rb"<sign>.*?</sign>", b"", body),  # unsigned
    ],
)
def test_the_client_refuses_answers_it_cannot_verify(live_simulators, settings, change):
    gateway = get_gateway("wechatpay")
    request, _added = signed_agreement(live_simulators, settings, day_offset=0)
    gateway._client = httpx.Client(transport=_Tamper(change), timeout=10)
    with pytest.raises(InvalidResponse):
        gateway.agreement_query(request.agreement_no)


def test_the_withholding_webhook_refuses_bad_notifications(live_simulators, settings, learner, course):
    payment = charge_payment(learner, course)
    trade = WxTrade(
        mchid=MCHID,
        appid=APPID,
        out_trade_no=payment.payment_no,
        amount=payment.amount,
        currency="CNY",
        state=WxTrade.State.SUCCESS,
        transaction_id=f"4200{secrets.randbelow(10**18):018d}",
        success_time=datetime.now(v2.BEIJING),
        payer_openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        request_body={"sign_type": v2.HMAC_SHA256},
        contract=WxContract(contract_id="202601010000000001"),
    )
    body = simulator.pay_notification_body(trade)
    url = f"{live_simulators.url}/payments/webhooks/wechatpay/withholding/"
    for bad in (
        body.replace(str(payment.amount).encode(), b"1"),  # tampered, sign kept
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        b"<xml><return_code>SUCCESS",
        b"<xml>" + b"<a>1</a>" * 10_000 + b"</xml>",  # oversized
    ):
        answer = httpx.post(url, content=bad, headers={"Content-Type": "text/xml"}, timeout=10)
        assert answer.status_code == 400, answer.text[:200]
        assert v2.parse_xml(answer.content)["return_code"] == "FAIL"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING and not GatewayEvent.objects.exists()

    answer = httpx.post(url, content=body, headers={"Content-Type": "text/xml"}, timeout=10)
    assert answer.status_code == 200 and v2.parse_xml(answer.content)["return_code"] == "SUCCESS"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert PLAN_ID  # the template these agreements are made under
