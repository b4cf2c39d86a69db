"""WeChat's web authorisation for an Official Account (公众号网页授权), scope
``snsapi_base``: how the site learns the openid that WeChat Pay JSAPI needs.

An openid is per appid: the one the learner gets here is for the Official Account whose
appid the WeChat Pay backend pays with (JSAPI refuses an openid of another appid), so
this client takes that appid and the account's AppSecret.

1. The browser (inside WeChat) goes to
   ``https://open.weixin.qq.com/connect/oauth2/authorize?appid=APPID&redirect_uri=
   URLENCODED&response_type=code&scope=snsapi_base&state=STATE#wechat_redirect``.
   ``snsapi_base`` is silent (no consent page, only the openid); ``state`` is ours,
   ``[a-zA-Z0-9]`` up to 128 bytes; the ``#wechat_redirect`` fragment is required.
2. WeChat sends it back to ``redirect_uri?code=CODE&state=STATE``; without consent
   (``snsapi_userinfo`` only) to ``redirect_uri?state=STATE``, no code. A code is good
   once, for 5 minutes.
3. The server exchanges the code: ``GET https://api.weixin.qq.com/sns/oauth2/access_token
   ?appid=APPID&secret=SECRET&code=CODE&grant_type=authorization_code`` →
   ``{access_token, expires_in, refresh_token, openid, scope, (unionid),
   (is_snapshotuser)}`` or ``{errcode, errmsg}``: 40029 invalid code, 40163 code been
   used, 40125 invalid appsecret. ``is_snapshotuser: 1`` is a "snapshot page" virtual
   account (a page previewed in Moments): its openid cannot pay.

The web access_token and refresh_token are not kept (only the openid is wanted); the
recorded exchange redacts them and the secret (:mod:`payments.exchanges`).

Sources: developers.weixin.qq.com/doc/service/api/webdev/access/api_snsaccesstoken
(换取用户授权凭证: parameters, answer fields, is_snapshotuser); the Official Account web
authorisation guide as quoted by blog.csdn.net/cl11992/article/details/86527897 (authorize
URL, scopes, state, one-time 5-minute code) (secondary); WeixinAuthorize's docs on
rubydoc.info (no code on refusal) (secondary); WeChat community threads and
github.com/binarywang/WxJava/issues/372 for 40029, 40163 and 40125 (secondary).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
from django.utils.translation import gettext_lazy as _

from payments.exceptions import GatewayRejected, GatewayUnavailable, InvalidResponse
from payments.gateways import http

logger = logging.getLogger("payments.gateways")

REAL_AUTHORIZE_BASE = "https://open.weixin.qq.com"
REAL_SNS_API_BASE = "https://api.weixin.qq.com"
AUTHORIZE_PATH = "/connect/oauth2/authorize"
ACCESS_TOKEN_PATH = "/sns/oauth2/access_token"  # noqa: S105 - a path
SCOPE = "snsapi_base"
# errcodes of the code exchange (see the module docstring)
INVALID_CODE, CODE_BEEN_USED, INVALID_APPSECRET = 40029, 40163, 40125


class WebAuthRefused(GatewayRejected):
    """WeChat answered the code exchange with an ``errcode``."""

    code = "wechat_web_auth_refused"
    message = _("WeChat did not confirm who you are.")


@dataclass(frozen=True)
class WebAuthIdentity:
    openid: str
    appid: str
    snapshot_user: bool = False  # a "snapshot page" virtual account: cannot pay


class WeChatWebAuth:
    """The two halves of ``snsapi_base``: where to send the browser, and the exchange of
    the code it brings back for the learner's openid."""

    def __init__(
        self,
        *,
        gateway: str,
        appid: str,
        app_secret: str,
        authorize_base: str = REAL_AUTHORIZE_BASE,
        sns_api_base: str = REAL_SNS_API_BASE,
        client: httpx.Client,
    ):
        self.gateway, self.appid = gateway, appid
        self._app_secret = app_secret
        self.authorize_base = (authorize_base or REAL_AUTHORIZE_BASE).rstrip("/")
        self.sns_api_base = (sns_api_base or REAL_SNS_API_BASE).rstrip("/")
        self._client = client

    def __repr__(self) -> str:  # never the secret
        return f"<WeChatWebAuth appid={self.appid!r}>"

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        query = urlencode(
            {
                "appid": self.appid,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": SCOPE,
                "state": state,
            }
        )
        return f"{self.authorize_base}{AUTHORIZE_PATH}?{query}#wechat_redirect"

    def identity_for_code(self, code: str) -> WebAuthIdentity:
        """The openid the one-time ``code`` stands for. Raises WebAuthRefused (an
        errcode), GatewayUnavailable (network trouble, 5xx) or InvalidResponse."""
        params = {
            "appid": self.appid,
            "secret": self._app_secret,
            "code": code,
            "grant_type": "authorization_code",
        }
        request = self._client.build_request("GET", f"{self.sns_api_base}{ACCESS_TOKEN_PATH}", params=params)
        response = http.send(
            self._client, gateway=self.gateway, operation="sns_oauth2_access_token", request=request
        )
        if response.status_code >= 500:
            raise GatewayUnavailable()
        try:
            data = response.json()
        except ValueError:
            raise InvalidResponse() from None
        if not isinstance(data, dict):
            raise InvalidResponse()
        if data.get("errcode"):
            logger.warning(
                "WeChat web authorisation refused: errcode %s (%s)",
                data.get("errcode"),
                data.get("errmsg", ""),
            )
            raise WebAuthRefused(gateway_code=str(data["errcode"]))
        openid = data.get("openid")
        if not isinstance(openid, str) or not openid or response.status_code != 200:
            raise InvalidResponse()
        return WebAuthIdentity(
            openid=openid, appid=self.appid, snapshot_user=data.get("is_snapshotuser") == 1
        )


def app_secret_read(*, secret: str = "", secret_path: str = "") -> str:
    """The AppSecret as given, or read from its file."""
    if secret or not secret_path:
        return secret
    return Path(secret_path).read_text().strip()


def web_auth_check_options(options) -> list[str]:
    """Problems with the web authorisation options (an error each)."""
    problems = []
    path = options.get("mp_app_secret_path")
    if path and not Path(path).is_file():
        problems.append(f"option 'mp_app_secret_path': no file at {path!r} (the Official Account AppSecret).")
    for name, default in (("oauth_authorize_base", REAL_AUTHORIZE_BASE), ("sns_api_base", REAL_SNS_API_BASE)):
        value = str(options.get(name) or default)
        if not value.startswith(("https://", "http://")):
            problems.append(f"option {name!r} must be an http(s) URL, not {value!r}.")
    return problems
