"""Inside WeChat, the pay page learns the learner's openid through WeChat's silent web
authorisation (snsapi_base) before offering WeChat Pay JSAPI: the full path over HTTP
against the simulator, and every way it can go wrong (each a message and the other
ways to pay, never a 500), without the AppSecret ever being logged or kept."""

import copy
import logging
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core import checks
from django.urls import reverse

from devtools.simulators.wechatpay.models import WxTrade
from devtools.simulators.wechatpay.oauth import app_secret, simulated_openid
from payments.devices import WECHAT_OPENID_SESSION_KEY
from payments.gateways import get_gateway
from payments.models import GatewayExchange
from payments.wechat_auth import OPENID_APPID_SESSION_KEY
from tests.settings import CLOSED_LOOPBACK_URL
from tests.site.conftest import messages_of
from tests.site.test_paying_by_device import WECHAT, offered

pytestmark = pytest.mark.django_db(transaction=True)


def _relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _wechat_answers(url: str, **simulator_only) -> httpx.Response:
    """WeChat's authorize page, opened by the browser over HTTP (the simulator's
    ``sim_*`` parameters are not WeChat's: a refusal, another WeChat user)."""
    url = url.split("#", 1)[0]
    extra = "".join(f"&sim_{name}={value}" for name, value in simulator_only.items())
    return httpx.get(url + extra, headers={"User-Agent": WECHAT}, timeout=10)


@pytest.fixture
def in_wechat(live_simulators, client, learner, course):
    """The learner logged in inside WeChat, with an order; returns its pay page URL."""
    client.force_login(learner)
    client.defaults["HTTP_USER_AGENT"] = WECHAT
    order_no = client.post(reverse("orders:checkout", args=[course.slug])).url.rstrip("/").split("/")[-1]
    return reverse("payments:pay", args=[order_no])


def _to_wechat(client, pay_url: str) -> str:
    """Open the pay page: it sends the learner to the site's authorize view, which sends
    them to WeChat. Returns WeChat's URL."""
    first = client.get(pay_url)
    assert first.status_code == 302, first
    assert first.url == reverse("payments:wechat-authorize") + "?next=" + pay_url.replace("/", "%2F")
    start = client.get(first.url)
    assert start.status_code == 302
    return start.url


def test_the_pay_page_learns_the_openid_silently_then_pays_with_jsapi(in_wechat, client, caplog):
    caplog.set_level(logging.DEBUG)
    gateway = get_gateway("wechatpay")
    wechat_url = _to_wechat(client, in_wechat)

    # WeChat's own URL, protocol-exact (the simulator's host in development).
    parts = urlsplit(wechat_url)
    assert wechat_url.startswith(gateway.web_auth.authorize_base + "/connect/oauth2/authorize?")
    assert parts.fragment == "wechat_redirect"
    query = parse_qs(parts.query)
    callback = reverse("payments:wechat-authorized")
    assert query["appid"] == [gateway.appid] and query["response_type"] == ["code"]
    assert query["scope"] == ["snsapi_base"] and query["redirect_uri"][0].endswith(callback)
    state = query["state"][0]
    assert len(state) == 32 and state.isalnum()

    # Silent: WeChat comes straight back with a one-time code and our state.
    answer = _wechat_answers(wechat_url)
    assert answer.status_code == 302
    back = parse_qs(urlsplit(answer.headers["location"]).query)
    assert back["state"] == [state] and back["code"][0]
    assert answer.headers["location"].startswith(query["redirect_uri"][0] + "?")

    returned = client.get(_relative(answer.headers["location"]))
    assert returned.status_code == 302 and returned.url == in_wechat
    openid = simulated_openid(gateway.appid)
    assert client.session[WECHAT_OPENID_SESSION_KEY] == openid
    assert client.session[OPENID_APPID_SESSION_KEY] == gateway.appid

    page = client.get(in_wechat)
    assert page.status_code == 200 and offered(page) == ["wechat_jsapi", "sandbox"]
    paying = client.post(in_wechat, {"channel": "wechat_jsapi"}, follow=True)
    assert paying.context["shown_as"] == "jsapi", messages_of(paying)
    assert paying.context["jsapi_params"]["package"].startswith("prepay_id=")
    assert WxTrade.objects.get().payer_openid == openid  # the JSAPI order went out with it

    # The AppSecret and the learner's tokens are in no log and no kept exchange.
    secret = app_secret()
    exchange = GatewayExchange.objects.get(operation="sns_oauth2_access_token")
    assert exchange.status_code == 200 and "secret=[redacted]" in exchange.url
    assert '"access_token": "[redacted]"' in exchange.response_body
    assert '"refresh_token": "[redacted]"' in exchange.response_body
    assert openid in exchange.response_body
    for kept in GatewayExchange.objects.all():
        assert secret not in f"{kept.url} {kept.request_body} {kept.response_body} {kept.error}"
    assert secret not in caplog.text


def test_a_state_that_does_not_match_the_session_is_refused(in_wechat, client):
    wechat_url = _to_wechat(client, in_wechat)
    answer = _wechat_answers(wechat_url)
    location = answer.headers["location"]
    forged = location.replace("state=", "state=0")  # another state, e.g. a link made for someone else
    page = client.get(_relative(forged), follow=True)
    assert "expired or was already used" in " ".join(messages_of(page))
    assert WECHAT_OPENID_SESSION_KEY not in client.session
    assert not GatewayExchange.objects.filter(operation="sns_oauth2_access_token").exists()  # code not spent
    # The state was single use: the genuine answer, now, is refused too.
    again = client.get(_relative(location), follow=True)
    assert "expired or was already used" in " ".join(messages_of(again))
    assert WECHAT_OPENID_SESSION_KEY not in client.session
    # Back on the pay page (tried once this session: no loop), the other ways and a retry.
    assert again.request["PATH_INFO"] == in_wechat and offered(again) == ["sandbox"]
    assert again.context["wechat_auth"] == "retry"
    assert reverse("payments:wechat-authorize") in again.content.decode()


def test_a_code_used_twice_is_refused_by_wechat(in_wechat, client, learner):
    wechat_url = _to_wechat(client, in_wechat)
    location = _wechat_answers(wechat_url).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    assert client.get(_relative(location)).status_code == 302
    assert WECHAT_OPENID_SESSION_KEY in client.session

    # Another session replays the same code with a fresh state of its own.
    client.logout()
    client.force_login(learner)
    restart = client.get(reverse("payments:wechat-authorize") + "?next=" + in_wechat)
    state = parse_qs(urlsplit(restart.url).query)["state"][0]
    replay = client.get(reverse("payments:wechat-authorized"), {"code": code, "state": state}, follow=True)
    assert replay.status_code == 200 and replay.request["PATH_INFO"] == in_wechat
    assert "expired or was already used" in " ".join(messages_of(replay))
    assert WECHAT_OPENID_SESSION_KEY not in client.session
    refused = GatewayExchange.objects.filter(operation="sns_oauth2_access_token").order_by("pk").last()
    assert '"errcode": 40163' in refused.response_body


def test_a_code_wechat_never_gave_is_refused(in_wechat, client):
    state = parse_qs(urlsplit(_to_wechat(client, in_wechat)).query)["state"][0]
    page = client.get(reverse("payments:wechat-authorized"), {"code": "made-up", "state": state}, follow=True)
    assert page.status_code == 200 and "expired or was already used" in " ".join(messages_of(page))
    assert (
        '"errcode": 40029' in GatewayExchange.objects.get(operation="sns_oauth2_access_token").response_body
    )
    assert WECHAT_OPENID_SESSION_KEY not in client.session


def test_an_errcode_from_wechat_is_a_message_not_an_error(in_wechat, client, settings):
    gateways = copy.deepcopy(settings.KPAY_GATEWAYS)
    options = gateways["wechatpay"]["OPTIONS"]
    options.pop("mp_app_secret_path")
    options["mp_app_secret"] = "0123456789abcdef0123456789abcdef"  # not the Official Account's
    settings.KPAY_GATEWAYS = gateways
    location = _wechat_answers(_to_wechat(client, in_wechat)).headers["location"]
    page = client.get(_relative(location), follow=True)
    assert page.status_code == 200 and page.request["PATH_INFO"] == in_wechat
    assert "WeChat could not confirm your WeChat account" in " ".join(messages_of(page))
    assert offered(page) == ["sandbox"]
    exchange = GatewayExchange.objects.get(operation="sns_oauth2_access_token")
    assert "40125" in exchange.response_body and options["mp_app_secret"] not in exchange.url


def test_wechat_not_answering_is_a_message_not_an_error(in_wechat, client, settings):
    gateways = copy.deepcopy(settings.KPAY_GATEWAYS)
    gateways["wechatpay"]["OPTIONS"]["sns_api_base"] = f"{CLOSED_LOOPBACK_URL}/sns"
    settings.KPAY_GATEWAYS = gateways
    location = _wechat_answers(_to_wechat(client, in_wechat)).headers["location"]
    page = client.get(_relative(location), follow=True)
    assert page.status_code == 200 and "WeChat is not answering" in " ".join(messages_of(page))
    exchange = GatewayExchange.objects.get(operation="sns_oauth2_access_token")
    assert exchange.status_code is None and exchange.error and "secret=[redacted]" in exchange.url


def test_refusing_comes_back_without_a_code(in_wechat, client):
    answer = _wechat_answers(_to_wechat(client, in_wechat), action="refuse")
    location = answer.headers["location"]
    assert "code=" not in location and "state=" in location
    page = client.get(_relative(location), follow=True)
    assert "did not share your WeChat account" in " ".join(messages_of(page))
    assert offered(page) == ["sandbox"] and WECHAT_OPENID_SESSION_KEY not in client.session


def test_a_snapshot_page_account_cannot_pay(in_wechat, client):
    location = _wechat_answers(_to_wechat(client, in_wechat), action="snapshot").headers["location"]
    page = client.get(_relative(location), follow=True)
    assert "open it fully" in " ".join(messages_of(page))
    assert WECHAT_OPENID_SESSION_KEY not in client.session


def test_the_way_back_stays_on_this_site(in_wechat, client):
    for unsafe in ("https://evil.example/pay/", "//evil.example/pay/", "javascript:alert(1)"):
        start = client.get(reverse("payments:wechat-authorize"), {"next": unsafe})
        location = _wechat_answers(start.url).headers["location"]
        back = client.get(_relative(location))
        assert back.status_code == 302 and back.url == reverse("orders:my-orders"), unsafe
    assert client.session[WECHAT_OPENID_SESSION_KEY]  # the authorisation itself went through


def test_another_wechat_user_has_another_openid(in_wechat, client):
    location = _wechat_answers(_to_wechat(client, in_wechat), user="someone-else").headers["location"]
    client.get(_relative(location))
    appid = get_gateway("wechatpay").appid
    assert client.session[WECHAT_OPENID_SESSION_KEY] == simulated_openid(appid, "someone-else")
    assert simulated_openid(appid, "someone-else") != simulated_openid(appid)


def test_without_the_appsecret_wechat_falls_back_and_the_check_warns(in_wechat, client, settings):
    gateways = copy.deepcopy(settings.KPAY_GATEWAYS)
    gateways["wechatpay"]["OPTIONS"].pop("mp_app_secret_path")
    settings.KPAY_GATEWAYS = gateways
    page = client.get(in_wechat)
    assert page.status_code == 200 and offered(page) == ["sandbox"]  # no redirect: nothing to go to
    assert "WeChat Pay inside WeChat is not available on this site yet" in page.content.decode()
    in_chinese = client.get(in_wechat, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "本站暂不支持在微信内使用微信支付" in in_chinese
    direct = client.get(reverse("payments:wechat-authorize"), {"next": in_wechat}, follow=True)
    assert direct.request["PATH_INFO"] == in_wechat
    assert "not available on this site yet" in " ".join(messages_of(direct))
    warnings = [message for message in checks.run_checks() if message.id == "kpay.W002"]
    assert len(warnings) == 1 and "WECHAT_MP_APP_SECRET" in warnings[0].msg


def test_an_openid_of_another_appid_is_not_used(in_wechat, client):
    session = client.session
    session[WECHAT_OPENID_SESSION_KEY] = "o-of-another-official-account"
    session[OPENID_APPID_SESSION_KEY] = "wx0000000000000000"
    session.save()
    assert client.get(in_wechat).url.startswith(reverse("payments:wechat-authorize"))
