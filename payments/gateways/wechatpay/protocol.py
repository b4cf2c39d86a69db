"""WeChat Pay API v3 protocol pieces (the simulator in ``devtools`` uses them too).

Message layouts, the ``Authorization`` header, checking response and notification
signature headers, AEAD_AES_256_GCM resources, yuan/fen for bills. The server side
(signing answers, reading the ``Authorization`` header) is the simulator's.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import time
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from payments.gateways.http import authorization_header
from payments.gateways.signing import sign_sha256_rsa, unix_timestamp, verify_sha256_rsa

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
SIGNATURE_TYPE = AUTH_SCHEME
PROBE_PREFIX = "WECHATPAY/SIGNTEST/"
MAX_CLOCK_SKEW = 300
AEAD_ALGORITHM = "AEAD_AES_256_GCM"
REAL_API_BASE = "https://api.mch.weixin.qq.com"
BEIJING = ZoneInfo("Asia/Shanghai")


# -- messages and headers ---------------------------------------------------------
def request_message(method: str, url: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """``METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n``; URL is path + ``?query`` as sent."""
    return b"%s\n%s\n%s\n%s\n%s\n" % (method.encode(), url.encode(), timestamp.encode(), nonce.encode(), body)


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return b"%s\n%s\n%s\n" % (timestamp.encode(), nonce.encode(), body)


def jsapi_message(app_id: str, timestamp: str, nonce: str, package: str) -> bytes:
    return f"{app_id}\n{timestamp}\n{nonce}\n{package}\n".encode()


def new_nonce() -> str:
    """32 upper-case alphanumerics, the shape WeChat's SDKs use."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


def authorization(
    private_key: RSAPrivateKey, *, mchid: str, serial_no: str, method: str, url: str, body: bytes
) -> str:
    timestamp, nonce = str(int(time.time())), new_nonce()
    signature = sign_sha256_rsa(private_key, request_message(method, url, timestamp, nonce, body))
    return authorization_header(
        AUTH_SCHEME,
        {
            "mchid": mchid,
            "nonce_str": nonce,
            "signature": signature,
            "timestamp": timestamp,
            "serial_no": serial_no,
        },
    )


def verify_signed_headers(
    public_keys: Mapping[str, RSAPublicKey],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> str | None:
    """Why ``headers`` do not prove ``body`` came from WeChat Pay, or None if they do.

    The key is chosen by ``Wechatpay-Serial`` (a ``PUB_KEY_ID_…`` or a platform
    certificate serial); a timestamp 300 s or more away from now is refused.
    """
    timestamp = headers.get("Wechatpay-Timestamp", "")
    nonce = headers.get("Wechatpay-Nonce", "")
    signature = headers.get("Wechatpay-Signature", "")
    serial = headers.get("Wechatpay-Serial", "")
    signature_type = headers.get("Wechatpay-Signature-Type", SIGNATURE_TYPE)
    seconds = unix_timestamp(timestamp)
    if not (timestamp and nonce and signature and serial):
        return "missing signature headers"
    if seconds is None:
        return "malformed timestamp"
    if signature.startswith(PROBE_PREFIX):
        return "signature probe"
    if signature_type != SIGNATURE_TYPE:
        return f"unsupported signature type {signature_type[:40]!r}"
    if abs((time.time() if now is None else now) - seconds) >= MAX_CLOCK_SKEW:
        return "stale timestamp"
    key = public_keys.get(serial)
    if key is None:
        return f"unknown key serial {serial[:64]!r}"
    if not verify_sha256_rsa(key, response_message(timestamp, nonce, body), signature):
        return "bad signature"
    return None


def dumps(data) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


# -- AEAD_AES_256_GCM resources -----------------------------------------------------
def aead_encrypt(apiv3_key: str, plaintext: bytes, *, associated_data: str, nonce: str | None = None) -> dict:
    """A ``resource`` object (without ``original_type``) holding ``plaintext``."""
    nonce = nonce or secrets.token_hex(6)  # 12 characters, used as UTF-8 bytes
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": AEAD_ALGORITHM,
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def aead_decrypt(apiv3_key: str, resource: Mapping) -> bytes:
    """The plaintext of a ``resource``; ValueError if it does not decrypt and authenticate."""
    if resource.get("algorithm") != AEAD_ALGORITHM:
        raise ValueError(f"unsupported algorithm {str(resource.get('algorithm'))[:40]!r}")
    try:
        data = base64.b64decode(str(resource["ciphertext"]), validate=True)
        return AESGCM(apiv3_key.encode()).decrypt(
            str(resource["nonce"]).encode(), data, str(resource.get("associated_data") or "").encode()
        )
    except (InvalidTag, KeyError, ValueError) as exc:
        raise ValueError("resource does not decrypt with our APIv3 key") from exc


# -- amounts and times -------------------------------------------------------------------
def rfc3339(moment: datetime) -> str:
    """Beijing time with its offset, as WeChat writes times: ``2026-01-02T10:00:00+08:00``."""
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def parse_rfc3339(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def certificate_serial(certificate: x509.Certificate) -> str:
    return format(certificate.serial_number, "X")
