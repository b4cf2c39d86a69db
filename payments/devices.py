"""Which payment channels suit the learner's device, and how a payment is shown on it.

* a **desktop** browser shows a QR code the learner scans with their phone (WeChat Pay's
  Native, Alipay's precreate), or goes to Alipay's desktop cashier page;
* a **phone browser** goes to the gateway's mobile page (WeChat Pay H5, Alipay wap): a QR
  code on the phone's own screen cannot be scanned by that phone;
* **inside WeChat** (its in-app browser says ``MicroMessenger`` in its user agent) WeChat
  Pay's JSAPI opens the payment sheet without leaving WeChat; it needs the payer's
  openid, and Alipay's pages do not open there at all.

The sandbox (development) works everywhere: its cashier is an ordinary web page.
Channels this module does not know (a future gateway's) are offered on every device.
"""

import enum
import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from .gateways import available_channels, channel_label


class Device(enum.StrEnum):
    DESKTOP = "desktop"
    PHONE = "phone"
    WECHAT = "wechat"


# In the order they are offered on each device.
DEVICE_CHANNELS = {
    Device.DESKTOP: ("wechat_native", "alipay_qr", "alipay_page", "sandbox"),
    Device.PHONE: ("wechat_h5", "alipay_wap", "sandbox"),
    Device.WECHAT: ("wechat_jsapi", "sandbox"),
}
_KNOWN = frozenset(channel for channels in DEVICE_CHANNELS.values() for channel in channels)
# Where the site keeps the learner's WeChat openid once it knows it (WeChat's silent web
# authorisation, ``snsapi_base``, fills it: payments.wechat_auth): without it JSAPI cannot
# be offered.
WECHAT_OPENID_SESSION_KEY = "kpay_wechat_openid"

# What choosing a channel will do, under its label.
CHANNEL_HINTS = {
    "wechat_native": _("Shows a QR code: scan it with WeChat on your phone."),
    "alipay_qr": _("Shows a QR code: scan it with the Alipay app."),
    "alipay_page": _("Opens Alipay's cashier page in this window."),
    "wechat_h5": _("Opens WeChat to confirm the payment."),
    "alipay_wap": _("Opens Alipay to confirm the payment."),
    "wechat_jsapi": _("Pay without leaving WeChat."),
    "sandbox": _("The simulated cashier of the development sandbox: no real money."),
}
# How to pay a QR code shown on this page, by channel.
SCAN_HINTS = {
    "wechat_native": _("Open WeChat, tap + then Scan, and point your phone at the code."),
    "alipay_qr": _("Open Alipay, tap Scan, and point your phone at the code."),
    "sandbox": _("Scan the code with a phone, or open the simulated cashier on this device."),
}

_PHONE = re.compile(r"Mobi|Android|iPhone|iPad|iPod|HarmonyOS|Windows Phone|OpenHarmony", re.IGNORECASE)


def device_of(user_agent: str | None) -> Device:
    """The kind of device a browser's ``User-Agent`` describes (a desktop when unsure:
    a QR code there can still be scanned by a phone)."""
    user_agent = user_agent or ""
    if "MicroMessenger" in user_agent:
        return Device.WECHAT
    if _PHONE.search(user_agent):
        return Device.PHONE
    return Device.DESKTOP


@dataclass(frozen=True)
class ChannelChoice:
    channel: str
    label: str
    hint: str


def channels_for(device: Device, *, payer_id_known: bool) -> list[ChannelChoice]:
    """The configured channels that work on ``device``, best first, with their labels."""
    configured = available_channels(payer_id_known=payer_id_known)
    suited = [channel for channel in DEVICE_CHANNELS[device] if channel in configured]
    unknown = [channel for channel in configured if channel not in _KNOWN]
    return [
        ChannelChoice(channel=channel, label=channel_label(channel), hint=str(CHANNEL_HINTS.get(channel, "")))
        for channel in suited + unknown
    ]


def presentation(action: dict, device: Device) -> str:
    """How to show a payment's action on ``device``: ``qr`` (a code to scan with a phone),
    ``redirect`` (a button to the gateway's page) or ``jsapi`` (WeChat's payment sheet)."""
    kind = action.get("kind", "")
    if kind == "jsapi":
        return "jsapi"
    web_page = str(action.get("redirect_url", "")).startswith(("https://", "http://"))
    if kind == "redirect" or (web_page and device is not Device.DESKTOP):
        return "redirect" if web_page else "qr"
    return "qr"
