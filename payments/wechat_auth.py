"""The learner's WeChat openid, learnt inside WeChat, so that WeChat Pay JSAPI can be offered.

The pay page, opened in WeChat's browser with JSAPI configured and no openid in the
session, sends the learner once per session through WeChat's silent web authorisation
(``snsapi_base``, :mod:`payments.gateways.wechatpay.oauth`) and back to the page it came
from. The ``state`` is random, kept in the session with where to go back to, and good
once; the code WeChat brings back is exchanged at once, server to server.

The openid is kept in the session only, with the appid it belongs to (an openid is per
Official Account: if the configured appid changes, the old one is not used). It is not
stored on the learner: the next session learns it again in one silent redirect, and no
learner record has to say which Official Account it came from.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from .devices import WECHAT_OPENID_SESSION_KEY
from .exceptions import (
    ChannelUnavailable,
    GatewayError,
    WeChatAuthExpired,
    WeChatAuthFailed,
    WeChatAuthNotConfigured,
    WeChatAuthRefused,
    WeChatAuthSnapshotPage,
    WeChatAuthUnavailable,
)
from .gateways import available_channels, gateway_for_channel
from .gateways.wechatpay.oauth import CODE_BEEN_USED, INVALID_CODE, WebAuthRefused, WeChatWebAuth

JSAPI = "wechat_jsapi"
OPENID_APPID_SESSION_KEY = "kpay_wechat_openid_appid"
_PENDING_SESSION_KEY = "kpay_wechat_auth"  # {"state": …, "next": …} of the authorisation under way
# Sent through once this session (never again unasked); holds where that went back to.
_TRIED_SESSION_KEY = "kpay_wechat_auth_tried"


def _web_auth() -> WeChatWebAuth | None:
    """The web authorisation of the backend serving JSAPI, if it has an AppSecret."""
    try:
        gateway = gateway_for_channel(JSAPI)
    except ChannelUnavailable:
        return None
    return getattr(gateway, "web_auth", None)


def session_openid(session) -> str | None:
    """The learner's openid, if the session knows it for the appid JSAPI pays with."""
    openid = session.get(WECHAT_OPENID_SESSION_KEY) or None
    appid = session.get(OPENID_APPID_SESSION_KEY)
    if openid and appid:
        auth = _web_auth()
        if auth is not None and auth.appid != appid:
            return None
    return openid


def wechat_auth_needed(session) -> str:
    """Inside WeChat without an openid: ``"go"`` (send the learner through the silent
    authorisation now), ``"retry"`` (done once this session and failed: offer it as a
    link), ``"unconfigured"`` (JSAPI is configured but not the AppSecret), or ``""``
    (JSAPI is not configured at all)."""
    if JSAPI not in available_channels():
        return ""
    if _web_auth() is None:
        return "unconfigured"
    return "retry" if session.get(_TRIED_SESSION_KEY) else "go"


def wechat_auth_start(*, session, next_url: str) -> str:
    """Where to send the browser: WeChat's authorisation page, which comes back to
    ``payments:wechat-authorized`` and then to ``next_url`` (a safe, same-site URL)."""
    auth = _web_auth()
    if auth is None:
        raise WeChatAuthNotConfigured()
    state = secrets.token_hex(16)  # [a-zA-Z0-9], at most 128 bytes
    session[_PENDING_SESSION_KEY] = {"state": state, "next": next_url}
    session[_TRIED_SESSION_KEY] = next_url
    # The domain registered for web authorisation on the Official Account: the public one.
    redirect_uri = settings.KPAY_PUBLIC_URL.rstrip("/") + reverse("payments:wechat-authorized")
    return auth.authorize_url(redirect_uri=redirect_uri, state=state)


def wechat_auth_return_url(session) -> str:
    """Where the authorisation under way goes back to; when none is (a replayed or forged
    answer), where the last one went back to; "" when there was none."""
    pending = session.get(_PENDING_SESSION_KEY)
    if isinstance(pending, dict):
        return pending.get("next", "")
    last = session.get(_TRIED_SESSION_KEY)
    return last if isinstance(last, str) else ""


def wechat_auth_finish(*, session, code: str, state: str) -> str:
    """Check ``state`` against the session (once), exchange ``code`` for the openid and
    keep it in the session; returns the openid. Raises a WeChatAuthFailed subclass."""
    pending = session.pop(_PENDING_SESSION_KEY, None)
    expected = pending.get("state", "") if isinstance(pending, dict) else ""
    if not expected or not constant_time_compare(state, expected):
        raise WeChatAuthExpired()
    if not code:
        raise WeChatAuthRefused()
    auth = _web_auth()
    if auth is None:
        raise WeChatAuthNotConfigured()
    try:
        identity = auth.identity_for_code(code)
    except WebAuthRefused as exc:
        if exc.gateway_code in {str(INVALID_CODE), str(CODE_BEEN_USED)}:
            raise WeChatAuthExpired() from exc
        raise WeChatAuthFailed() from exc
    except GatewayError as exc:  # not answering, or an answer we cannot read
        raise WeChatAuthUnavailable() from exc
    if identity.snapshot_user:
        raise WeChatAuthSnapshotPage()
    session[WECHAT_OPENID_SESSION_KEY] = identity.openid
    session[OPENID_APPID_SESSION_KEY] = identity.appid
    return identity.openid
