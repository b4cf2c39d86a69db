"""WeChat Pay API v2 protocol pieces: the one the withholding (委托代扣, papay) APIs speak.

Messages are flat XML documents ``<xml><name>value</name>…</xml>`` (values usually in
CDATA), signed with the merchant's v2 API key (a 32-character secret set on the merchant
platform; not the APIv3 key):

* the string to sign is every parameter except ``sign`` whose value is not empty,
  sorted by name (ASCII), joined ``k=v&k=v`` with raw (not URL-encoded) values, then
  ``&key=<v2 key>``;
* ``MD5``: ``MD5(string)``, upper-case hex (32 characters); ``HMAC-SHA256``:
  ``HMAC-SHA256(key=<v2 key>, string)``, upper-case hex (64 characters). ``sign_type``,
  when sent, is a parameter like any other and is signed too; without it a message is MD5.

Official vector (安全规范, pay.weixin.qq.com/wiki/doc/api/micropay.php?chapter=4_3, quoted
by the SDKs): appid=wxd930ea5d5a258f4f, mch_id=10000100, device_info=1000, body=test,
nonce_str=ibuaiVcKdpRxkhJA, key 192006250b4c09247ec02edce69f6a2d →
MD5 ``9A0A8659F005D6984697E2CA0A9CF3B7``, HMAC-SHA256 ``6A9AE165…70DACD6``.

Untrusted XML is parsed with ``defusedxml`` (no DTDs, no entities, no external
references), within a size limit, and must be exactly one level deep: anything else is
:class:`MalformedMessage`. The simulator in ``devtools`` uses these functions too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Mapping
from datetime import datetime
from xml.etree.ElementTree import ParseError
from zoneinfo import ZoneInfo

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"
SIGN_TYPES = (MD5, HMAC_SHA256)
SUCCESS = "SUCCESS"
FAIL = "FAIL"
MAX_MESSAGE_BYTES = 32 * 1024  # the protocol's messages are a few hundred bytes
MAX_FIELDS = 100
BEIJING = ZoneInfo("Asia/Shanghai")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


class MalformedMessage(ValueError):
    """Not a well-formed, flat, reasonably small v2 XML message."""


# -- signing -------------------------------------------------------------------------------
def string_to_sign(params: Mapping[str, str], key: str) -> str:
    pairs = [f"{name}={value}" for name, value in sorted(params.items()) if name != "sign" and value != ""]
    return "&".join(pairs) + f"&key={key}"


def sign(params: Mapping[str, str], key: str, sign_type: str = MD5) -> str:
    """The ``sign`` of ``params`` (``sign`` itself and empty values left out)."""
    text = string_to_sign(params, key).encode()
    if sign_type == HMAC_SHA256:
        return hmac.new(key.encode(), text, hashlib.sha256).hexdigest().upper()
    if sign_type == MD5:
        # The protocol prescribes a keyed MD5 for these APIs; it is WeChat's, not our choice.
        return hashlib.md5(text).hexdigest().upper()  # noqa: S324
    raise ValueError(f"unsupported sign_type {sign_type[:20]!r}")


def signed(params: Mapping[str, str], key: str, sign_type: str = MD5) -> dict[str, str]:
    """``params`` with empty values dropped and ``sign`` added."""
    message = {name: str(value) for name, value in params.items() if value is not None and str(value) != ""}
    message.pop("sign", None)
    message["sign"] = sign(message, key, sign_type)
    return message


def sign_type_of(params: Mapping[str, str], expected: str | None = None) -> str | None:
    """The algorithm ``params`` are signed with: their ``sign_type`` when they name one;
    else ``expected`` (what the request asked for), else the one the signature's length
    implies (32 hex digits MD5, 64 HMAC-SHA256). None when that is not a known one."""
    declared = params.get("sign_type", "")
    if declared:
        return declared if declared in SIGN_TYPES else None
    if expected:
        return expected
    return {32: MD5, 64: HMAC_SHA256}.get(len(params.get("sign", "")))


def verify(params: Mapping[str, str], key: str, *, expected: str | None = None) -> bool:
    """Whether ``params`` carry a valid ``sign`` under ``key`` (constant-time compare)."""
    given = params.get("sign", "")
    sign_type = sign_type_of(params, expected)
    if not given or sign_type is None or not key:
        return False
    return hmac.compare_digest(sign(params, key, sign_type).encode(), given.encode())


def new_nonce() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


# -- XML ---------------------------------------------------------------------------------------
def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(params: Mapping[str, str]) -> bytes:
    """``<xml>…</xml>``: digits as they are, everything else in CDATA."""
    parts = []
    for name, value in params.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a field name: {name[:40]!r}")
        text = str(value)
        parts.append(f"<{name}>{text if text.isascii() and text.isdigit() else _cdata(text)}</{name}>")
    return ("<xml>" + "".join(parts) + "</xml>").encode()


def parse_xml(body: bytes | str) -> dict[str, str]:
    """The fields of a v2 message. Refuses (:class:`MalformedMessage`) what is too large,
    not XML, carries a DTD or entities, is not ``<xml>`` of leaf elements, or repeats a
    field."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MalformedMessage("message too large")
    if not raw.strip():
        raise MalformedMessage("empty message")
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, UnicodeDecodeError, ValueError) as exc:
        raise MalformedMessage(f"not acceptable XML: {type(exc).__name__}") from exc
    if root.tag != "xml":
        raise MalformedMessage("the root element is not <xml>")
    if len(root) > MAX_FIELDS:
        raise MalformedMessage("too many fields")
    fields: dict[str, str] = {}
    for element in root:
        if not isinstance(element.tag, str) or not _NAME.fullmatch(element.tag):
            raise MalformedMessage("a field name is not a name")
        if len(element) or element.attrib:
            raise MalformedMessage(f"field {element.tag!r} is not a plain value")
        if element.tag in fields:
            raise MalformedMessage(f"field {element.tag!r} appears twice")
        fields[element.tag] = (element.text or "").strip()
    return fields


# -- times ----------------------------------------------------------------------------------------
def parse_time(text: str | None) -> datetime | None:
    """``yyyy-MM-dd HH:mm:ss`` (contracts) or ``yyyyMMddHHmmss`` (trades), Beijing time;
    None when empty. ValueError when it is something else."""
    if not text:
        return None
    for layout in ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=BEIJING)
        except ValueError:
            continue
    raise ValueError(f"not a WeChat Pay v2 time: {text[:30]!r}")


def format_time(moment: datetime, *, compact: bool = False) -> str:
    return moment.astimezone(BEIJING).strftime("%Y%m%d%H%M%S" if compact else "%Y-%m-%d %H:%M:%S")


# -- replies ----------------------------------------------------------------------------------------
def reply(ok: bool, message: str = "") -> bytes:
    """What the merchant answers a v2 notification: ``SUCCESS``/``OK``, or ``FAIL`` and why."""
    return to_xml({"return_code": SUCCESS if ok else FAIL, "return_msg": "OK" if ok else (message or FAIL)})


_SIGN_FIELD = re.compile(r"(<sign>)(?:<!\[CDATA\[)?[^<\]]*(?:\]\]>)?(</sign>)|((?:^|[?&])sign=)[^&]*")


def redact(text: str) -> str:
    """``text`` (an XML message or a query string) with the value of ``sign`` replaced:
    what exchange records keep."""
    return _SIGN_FIELD.sub(lambda m: f"{m[1]}[redacted]{m[2]}" if m[1] else f"{m[3]}[redacted]", text)
