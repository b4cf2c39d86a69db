"""WeChat's web authorisation for an Official Account (网页授权), as the simulator serves it:
the authorize page (``open.weixin.qq.com``) under ``<site>/simulators/wechatpay/open`` and
the code exchange (``api.weixin.qq.com``) under ``<site>/simulators/wechatpay/api``.

Protocol: :mod:`payments.gateways.wechatpay.oauth`. ``snsapi_base`` is silent: the
authorize page sends the browser straight back with a one-time code (5 minutes).
The AppSecret of every appid is the development one in ``KPAY_KEY_DIR``.

Not WeChat's, for tests and demos: ``sim_user`` names the WeChat user in the browser
(each has one openid per appid, :func:`simulated_openid`), ``sim_action=refuse`` comes
back without a code (as a refusal of ``snsapi_userinfo`` does), ``sim_action=snapshot``
gives a "snapshot page" virtual account (``is_snapshotuser: 1``). Simplification:
``snsapi_userinfo`` shows no consent page.
"""

import base64
import hashlib
import secrets
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.core.cache import cache
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET

from .views import material

CODE_LIFETIME = 300  # seconds, as WeChat's
USED_MEMORY = 3600  # a used code is remembered (40163) for this long, then unknown (40029)
SCOPES = ("snsapi_base", "snsapi_userinfo")
DEFAULT_USER = "learner"
_PREFIX = "sim-wechat-oauth"


def simulated_openid(appid: str, user: str = DEFAULT_USER) -> str:
    """The openid the simulated WeChat ``user`` has under ``appid`` (28 characters)."""
    digest = hashlib.sha256(f"{appid}\n{user}".encode()).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode()[:27]


def app_secret() -> str:
    """The development AppSecret every simulated Official Account has."""
    return material().mp_app_secret


def _error_page(errcode: int, message: str) -> HttpResponse:
    return HttpResponse(f"<h1>{errcode}</h1><p>{message}</p>", status=400)


def _with_query(url: str, params: dict) -> str:
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


@require_GET
def authorize(request):
    """``/connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state``."""
    params = request.GET
    appid, redirect_uri, scope = (
        params.get("appid", ""),
        params.get("redirect_uri", ""),
        params.get("scope", ""),
    )
    if not appid:
        return _error_page(10012, "appid不能为空")
    if not redirect_uri:
        return _error_page(10011, "redirect_uri不能为空")
    if not redirect_uri.startswith(("https://", "http://")):
        return _error_page(10003, "redirect_uri域名与后台配置不一致")
    if not scope:
        return _error_page(10010, "scope不能为空")
    if scope not in SCOPES or params.get("response_type") != "code":
        return _error_page(10005, "此公众号并没有这些scope的权限")
    state = params.get("state", "")
    back = {"state": state} if state else {}
    action = params.get("sim_action", "")
    if action == "refuse":
        return HttpResponseRedirect(_with_query(redirect_uri, back))
    code = secrets.token_urlsafe(24)
    cache.set(
        f"{_PREFIX}:code:{code}",
        {
            "appid": appid,
            "openid": simulated_openid(appid, params.get("sim_user") or DEFAULT_USER),
            "scope": scope,
            "snapshot": action == "snapshot",
        },
        CODE_LIFETIME,
    )
    return HttpResponseRedirect(_with_query(redirect_uri, {"code": code, **back}))


def _errcode(errcode: int, errmsg: str) -> JsonResponse:
    rid = secrets.token_hex(4) + "-" + secrets.token_hex(4)
    return JsonResponse({"errcode": errcode, "errmsg": f"{errmsg}, rid: {rid}"})


@require_GET
def access_token(request):
    """``/sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code``."""
    params = request.GET
    appid, code = params.get("appid", ""), params.get("code", "")
    if not appid:
        return _errcode(41002, "appid missing")
    if not constant_time_compare(params.get("secret", ""), app_secret()):
        return _errcode(40125, "invalid appsecret")
    if params.get("grant_type") != "authorization_code":
        return _errcode(40002, "invalid grant_type")
    if not code:
        return _errcode(41008, "missing code")
    issued = cache.get(f"{_PREFIX}:code:{code}")
    if issued is None or issued["appid"] != appid:
        return _errcode(40029, "invalid code")
    if not cache.add(f"{_PREFIX}:used:{code}", True, USED_MEMORY):
        return _errcode(40163, "code been used")
    answer = {
        "access_token": secrets.token_urlsafe(48),
        "expires_in": 7200,
        "refresh_token": secrets.token_urlsafe(48),
        "openid": issued["openid"],
        "scope": issued["scope"],
    }
    if issued["snapshot"]:
        answer["is_snapshotuser"] = 1
    return JsonResponse(answer)
