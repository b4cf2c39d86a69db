"""The pay page offers the channels that suit the learner's device, labels each for what
it does, shows a payment the way that device can complete it, and says when it failed."""

import copy
import json

import pytest
from django.urls import reverse

from payments.devices import WECHAT_OPENID_SESSION_KEY, Device, device_of, presentation
from payments.models import Payment
from tests.cashier import press, wait_for
from tests.site.conftest import messages_of

DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Mobile Safari/537.36"
)
WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.54(0x18003637) NetType/WIFI Language/zh_CN"
)


def offered(response) -> list[str]:
    return [choice.channel for choice in response.context["channels"]]


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (DESKTOP, Device.DESKTOP),
        (IPHONE, Device.PHONE),
        (ANDROID, Device.PHONE),
        (WECHAT, Device.WECHAT),
        ("", Device.DESKTOP),
    ],
)
def test_devices_are_told_apart_by_user_agent(user_agent, device):
    assert device_of(user_agent) is device


def test_channels_are_offered_by_device(site, course, place_order):
    order = place_order(course)
    pay_url = reverse("payments:pay", args=[order.order_no])

    desktop = site.get(pay_url, HTTP_USER_AGENT=DESKTOP)
    assert offered(desktop) == ["wechat_native", "alipay_qr", "alipay_page", "sandbox"]
    content = desktop.content.decode()
    assert "WeChat Pay (QR code)" in content and "scan it with WeChat on your phone" in content

    phone = site.get(pay_url, HTTP_USER_AGENT=IPHONE)
    assert offered(phone) == ["wechat_h5", "alipay_wap", "sandbox"]  # no QR code to scan with the same phone
    content = phone.content.decode()
    assert "WeChat Pay (mobile)" in content and "Alipay (mobile)" in content and "QR code" not in content

    # Inside WeChat: JSAPI once the site knows the learner's openid; Alipay never opens there.
    # Without it the page first sends the learner to WeChat's silent authorisation, once
    # (test_wechat_authorisation follows it through).
    to_wechat = site.get(pay_url, HTTP_USER_AGENT=WECHAT)
    assert to_wechat.status_code == 302 and to_wechat.url.startswith(reverse("payments:wechat-authorize"))
    assert site.get(to_wechat.url, HTTP_USER_AGENT=WECHAT).status_code == 302  # to WeChat, not followed
    in_wechat = site.get(pay_url, HTTP_USER_AGENT=WECHAT)
    assert offered(in_wechat) == ["sandbox"]
    assert "Alipay does not open inside WeChat" in in_wechat.content.decode()
    session = site.session
    session[WECHAT_OPENID_SESSION_KEY] = "o-learner-openid"
    session.save()
    assert offered(site.get(pay_url, HTTP_USER_AGENT=WECHAT)) == ["wechat_jsapi", "sandbox"]


def test_inside_wechat_without_a_usable_channel_the_page_says_how_to_pay(site, course, place_order, settings):
    gateways = copy.deepcopy(settings.KPAY_GATEWAYS)
    del gateways["sandbox"]
    del gateways["wechatpay"]["OPTIONS"]["mp_app_secret_path"]  # JSAPI cannot learn the openid
    settings.KPAY_GATEWAYS = gateways
    order = place_order(course)
    page = site.get(reverse("payments:pay", args=[order.order_no]), HTTP_USER_AGENT=WECHAT)
    content = page.content.decode()
    assert offered(page) == [] and "Open in browser" in content
    assert "WeChat Pay inside WeChat is not available on this site yet" in content


def test_sandbox_on_a_phone_is_a_button_to_its_cashier_not_a_qr_code(site, course, place_order):
    order = place_order(course)
    pay_url = reverse("payments:pay", args=[order.order_no])
    started = site.post(pay_url, {"channel": "sandbox"}, HTTP_USER_AGENT=IPHONE)
    payment = Payment.objects.get(order=order)
    assert started.status_code == 302 and started.url == payment.action["redirect_url"]  # straight to it

    back = site.get(f"{pay_url}?payment={payment.payment_no}", HTTP_USER_AGENT=IPHONE)  # coming back
    content = back.content.decode()
    assert back.context["shown_as"] == "redirect"
    assert "<svg" not in content and "Scan to pay" not in content
    assert "Pay ¥99.00 with Sandbox Pay (simulated gateway)" in content
    assert payment.action["redirect_url"].replace("&", "&amp;") in content

    on_desktop = site.get(f"{pay_url}?payment={payment.payment_no}", HTTP_USER_AGENT=DESKTOP)
    assert on_desktop.context["shown_as"] == "qr" and "Scan to pay ¥99.00" in on_desktop.content.decode()


def test_a_payment_under_way_on_a_desktop_channel_is_not_pushed_on_a_phone(
    site, course, place_order, settings
):
    order = place_order(course)
    # A payment the desktop started (a QR code on WeChat Pay Native), made here directly:
    # the simulator is not running in this test.
    Payment.objects.create(
        payment_no="P-desktop-qr",
        order=order,
        merchant_id=order.merchant_id,
        channel="wechat_native",
        gateway="wechatpay",
        amount=order.total,
        action={
            "kind": "qr",
            "code_url": "weixin://wxpay/bizpayurl?pr=abc",
            "redirect_url": "",
            "client_params": {},
        },
        expires_at=order.expires_at,
    )
    pay_url = reverse("payments:pay", args=[order.order_no])
    assert site.get(pay_url, HTTP_USER_AGENT=DESKTOP).context["payment"].payment_no == "P-desktop-qr"
    phone = site.get(pay_url, HTTP_USER_AGENT=IPHONE)
    assert phone.context["payment"] is None and offered(phone) == ["wechat_h5", "alipay_wap", "sandbox"]


def test_a_redirect_channel_goes_straight_to_the_gateways_page(site, course, place_order):
    order = place_order(course)
    response = site.post(
        reverse("payments:pay", args=[order.order_no]), {"channel": "alipay_wap"}, HTTP_USER_AGENT=ANDROID
    )
    payment = Payment.objects.get(order=order)
    assert response.status_code == 302 and response.url == payment.action["redirect_url"]
    assert "alipay.trade.wap.pay" in response.url


def test_presentation_of_each_kind_of_action():
    qr_only = {"kind": "qr", "code_url": "weixin://x", "redirect_url": ""}
    qr_and_page = {"kind": "qr", "code_url": "http://cashier", "redirect_url": "http://cashier"}
    page = {"kind": "redirect", "redirect_url": "https://openapi.alipay.com/gateway.do?x=1"}
    sheet = {"kind": "jsapi", "client_params": {"appId": "wx1"}}
    assert presentation(qr_only, Device.DESKTOP) == "qr"
    assert presentation(qr_only, Device.PHONE) == "qr"  # nothing else to show
    assert presentation(qr_and_page, Device.DESKTOP) == "qr"
    assert presentation(qr_and_page, Device.PHONE) == "redirect"
    assert presentation(page, Device.DESKTOP) == "redirect"
    assert presentation(sheet, Device.WECHAT) == "jsapi"


def test_a_declined_payment_says_so_and_offers_another_way(site, course, place_order, sandbox):
    order = place_order(course)
    pay_url = reverse("payments:pay", args=[order.order_no])
    site.post(pay_url, {"channel": "sandbox"}, HTTP_USER_AGENT=DESKTOP)
    payment = Payment.objects.get(order=order)
    status_url = reverse("payments:status", args=[order.order_no])
    assert site.get(status_url, {"payment": payment.payment_no}).json()["failed"] is False

    declined = sandbox.trade_event(payment, event_type="TRADE.FAILED", state="PAYERROR")
    assert sandbox.post(declined).status_code == 204
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED

    # The page polling the status learns it, for the attempt it shows and in general.
    status = site.get(status_url, {"payment": payment.payment_no}).json()
    assert status["failed"] is True and status["paid"] is False and status["closed"] is False
    assert site.get(status_url).json()["failed"] is True

    page = site.get(f"{pay_url}?payment={payment.payment_no}", HTTP_USER_AGENT=DESKTOP)
    content = page.content.decode()
    assert page.context["failed"] == payment and page.context["payment"] is None
    assert "did not go through" in content and "Try again" in content
    assert 'value="sandbox" checked' in content  # the same way, preselected; the others offered too
    assert "data-status-url" not in content  # nothing left to wait for
    result = site.get(reverse("payments:result", args=[order.order_no])).content.decode()
    assert "did not go through" in result and reverse("payments:pay", args=[order.order_no]) in result

    # Trying again starts a new attempt, which is no longer "failed".
    again = site.post(pay_url, {"channel": "sandbox"}, HTTP_USER_AGENT=DESKTOP, follow=True)
    assert again.context["payment"] is not None and again.context["payment"] != payment
    assert again.context["failed"] is None
    assert site.get(status_url).json()["failed"] is False


def test_another_attempt_under_way_is_not_a_failure(site, course, place_order, sandbox):
    order = place_order(course)
    pay_url = reverse("payments:pay", args=[order.order_no])
    site.post(pay_url, {"channel": "sandbox"}, HTTP_USER_AGENT=DESKTOP)
    sandbox_payment = Payment.objects.get(order=order)
    site.post(pay_url, {"channel": "alipay_page"}, HTTP_USER_AGENT=DESKTOP)  # a second way, still open
    assert (
        sandbox.post(
            sandbox.trade_event(sandbox_payment, event_type="TRADE.FAILED", state="PAYERROR")
        ).status_code
        == 204
    )
    status_url = reverse("payments:status", args=[order.order_no])
    assert site.get(status_url, {"payment": sandbox_payment.payment_no}).json()["failed"] is True
    assert site.get(status_url).json()["failed"] is False  # the Alipay attempt may still succeed


@pytest.mark.django_db(transaction=True)
def test_wechat_jsapi_inside_wechat_opens_the_payment_sheet(live_simulators, client, learner, course):
    client.force_login(learner)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    session = client.session
    session[WECHAT_OPENID_SESSION_KEY] = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    session.save()
    order_no = client.post(reverse("orders:checkout", args=[course.slug])).url.rstrip("/").split("/")[-1]

    page = client.post(
        reverse("payments:pay", args=[order_no]),
        {"channel": "wechat_jsapi"},
        HTTP_USER_AGENT=WECHAT,
        follow=True,
    )

    content = page.content.decode()
    assert page.context["shown_as"] == "jsapi", messages_of(page)
    assert "Pay ¥99.00 in WeChat" in content and "Scan to pay" not in content
    params = page.context["jsapi_params"]
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["package"].startswith("prepay_id=")
    assert json.dumps(params["package"]) in content  # handed to WeixinJSBridge through json_script
    assert "js/wechat-pay.js" in content


@pytest.mark.django_db(transaction=True)
def test_declining_at_the_wechat_cashier_reaches_the_pay_page(live_simulators, client, learner, course):
    """WeChat Pay sends no notification for a declined payment: the status poll asks."""
    client.force_login(learner)
    order_no = client.post(reverse("orders:checkout", args=[course.slug])).url.rstrip("/").split("/")[-1]
    client.post(
        reverse("payments:pay", args=[order_no]), {"channel": "wechat_native"}, HTTP_USER_AGENT=DESKTOP
    )
    payment = Payment.objects.get(order__order_no=order_no)
    assert press(payment.action["redirect_url"], "decline").status_code == 200

    status_url = reverse("payments:status", args=[order_no])
    assert wait_for(
        lambda: client.get(status_url, {"payment": payment.payment_no}).json()["failed"], seconds=5
    )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
