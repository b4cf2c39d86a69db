"""WeChat Pay API v3 protocol pieces shared by the backend and the simulator.

Message layouts, the ``Authorization`` header, response and notification signature
headers, AEAD_AES_256_GCM resources, yuan/fen for bills, and the development key
material that the backend and the simulator both load from ``dev_key_dir``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from payments.gateways.signing import ensure_dev_keypair, load_private_key, sign_sha256_rsa, verify_sha256_rsa

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
    return (
        f'{AUTH_SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def parse_authorization(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    if scheme != AUTH_SCHEME:
        return {}
    fields = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value.strip('"')
    return fields


def signed_headers(private_key: RSAPrivateKey, serial: str, body: bytes) -> dict[str, str]:
    """The headers WeChat Pay puts on a response or notification signing ``body``."""
    timestamp, nonce = str(int(time.time())), new_nonce()
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign_sha256_rsa(private_key, response_message(timestamp, nonce, body)),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        "Request-ID": secrets.token_hex(16),
    }


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
    if not (timestamp.isdigit() and nonce and signature and serial):
        return "missing signature headers"
    if signature.startswith(PROBE_PREFIX):
        return "signature probe"
    if signature_type != SIGNATURE_TYPE:
        return f"unsupported signature type {signature_type[:40]!r}"
    if abs((time.time() if now is None else now) - int(timestamp)) >= MAX_CLOCK_SKEW:
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
_FEN = Decimal("0.01")


def fen_to_yuan(fen: int) -> str:
    """Integer fen as the yuan decimal WeChat's bills print (``1`` → ``"0.01"``)."""
    return str((Decimal(fen) / 100).quantize(_FEN))


def yuan_to_fen(yuan: str) -> int:
    """A bill's yuan decimal as integer fen; refuses sub-fen amounts."""
    value = Decimal(yuan.strip().lstrip("`"))
    fen = value * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{yuan!r} is not a whole number of fen")
    return int(fen.to_integral_value(rounding=ROUND_HALF_UP))


def rfc3339(moment: datetime) -> str:
    """Beijing time with its offset, as WeChat writes times: ``2026-01-02T10:00:00+08:00``."""
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def parse_rfc3339(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def certificate_serial(certificate: x509.Certificate) -> str:
    return format(certificate.serial_number, "X")


# -- development key material -----------------------------------------------------------
@dataclass(frozen=True)
class DevMaterial:
    """Everything a merchant and WeChat Pay would each hold, generated for development.

    The merchant's API key pair and certificate serial, the "WeChat Pay public key"
    pair and its ``PUB_KEY_ID_…``, a platform certificate (a second key pair) and the
    APIv3 key. The simulator holds the private halves of WeChat Pay's keys.
    """

    merchant_private_path: Path
    merchant_public_path: Path
    cert_serial_no: str
    pubkey_private_path: Path
    pubkey_public_path: Path
    public_key_id: str
    platform_private_path: Path
    platform_cert_path: Path
    platform_serial: str
    apiv3_key: str


_SECRETS_FILE = "wechatpay-dev.json"


def ensure_dev_material(directory: str | Path) -> DevMaterial:
    """Load (generating on first use, under a lock) the development material in ``directory``.

    For development and tests only; production material comes from the merchant platform.
    """
    directory = Path(directory)
    secrets_path = directory / _SECRETS_FILE
    if not secrets_path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / ".wechatpay-dev.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not secrets_path.exists():
                _generate_dev_material(directory, secrets_path)
    facts = json.loads(secrets_path.read_text())
    merchant_private, merchant_public = ensure_dev_keypair(directory, "wechatpay-merchant")
    pubkey_private, pubkey_public = ensure_dev_keypair(directory, "wechatpay-pubkey")
    platform_private, _ = ensure_dev_keypair(directory, "wechatpay-platform")
    return DevMaterial(
        merchant_private_path=merchant_private,
        merchant_public_path=merchant_public,
        cert_serial_no=facts["cert_serial_no"],
        pubkey_private_path=pubkey_private,
        pubkey_public_path=pubkey_public,
        public_key_id=facts["public_key_id"],
        platform_private_path=platform_private,
        platform_cert_path=directory / "wechatpay-platform.cert.pem",
        platform_serial=facts["platform_serial"],
        apiv3_key=facts["apiv3_key"],
    )


def _generate_dev_material(directory: Path, secrets_path: Path) -> None:
    ensure_dev_keypair(directory, "wechatpay-merchant")
    ensure_dev_keypair(directory, "wechatpay-pubkey")
    platform_private, _ = ensure_dev_keypair(directory, "wechatpay-platform")
    platform_key = load_private_key(platform_private)
    serial_number = (1 << 156) | secrets.randbits(156)  # 40 hex digits, like WeChat's
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kpay development"),
            x509.NameAttribute(NameOID.COMMON_NAME, "WeChat Pay simulator platform certificate"),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(platform_key.public_key())
        .serial_number(serial_number)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=5 * 365))
        .sign(platform_key, hashes.SHA256())
    )
    _write(
        directory / "wechatpay-platform.cert.pem", certificate.public_bytes(serialization.Encoding.PEM), 0o644
    )
    alphabet = string.ascii_letters + string.digits
    facts = {
        "cert_serial_no": secrets.token_hex(20).upper(),
        "public_key_id": "PUB_KEY_ID_01" + "".join(secrets.choice(string.digits) for _ in range(28)),
        "platform_serial": format(serial_number, "X"),
        "apiv3_key": "".join(secrets.choice(alphabet) for _ in range(32)),
    }
    _write(secrets_path, json.dumps(facts, indent=1).encode(), 0o600)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
