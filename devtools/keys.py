"""Development key material: what a merchant and each simulated gateway would hold.

In development the settings point the gateways at key *files* in ``KPAY_KEY_DIR``
through the options production uses (``private_key_path``, ``public_key_path`` …);
:func:`dev_keys_ensure` (run by :class:`devtools.apps.DevtoolsConfig` at startup) makes
any that are missing, so the product gateways only ever read files.

Generation is idempotent and safe when two processes start at once (web server and
worker): under a lock file, each file is written to a temporary name and renamed.
A marker file says the folder holds development material; ``payments.checks``
refuses gateway options pointing into such a folder in production.

This module imports only the standard library and ``cryptography``: the settings
import its constants before Django is set up.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

# Named by payments.checks too (it may not import devtools); a test keeps them equal.
DEVELOPMENT_KEYS_MARKER = ".kpay-development-keys"

# Key pairs: <name>.key.pem (private) and <name>.pub.pem (public).
SANDBOX_MERCHANT = "sandbox-merchant"
SANDBOX_GATEWAY = "sandbox-gateway"
ALIPAY_APP = "alipay-app"
ALIPAY_PLATFORM = "alipay-platform"
WECHATPAY_MERCHANT = "wechatpay-merchant"
WECHATPAY_PUBKEY = "wechatpay-pubkey"  # the "WeChat Pay public key" (PUB_KEY_ID_…)
WECHATPAY_PLATFORM = "wechatpay-platform"  # the platform certificate's key
KEY_PAIRS = (
    SANDBOX_MERCHANT,
    SANDBOX_GATEWAY,
    ALIPAY_APP,
    ALIPAY_PLATFORM,
    WECHATPAY_MERCHANT,
    WECHATPAY_PUBKEY,
    WECHATPAY_PLATFORM,
)
WECHATPAY_PLATFORM_CERT = "wechatpay-platform.cert.pem"
WECHATPAY_APIV3_KEY = "wechatpay-apiv3.key"
WECHATPAY_V2_KEY = "wechatpay-v2.key"  # the v2 API key (委托代扣 papay signs with it)
WECHAT_MP_APP_SECRET = "wechat-mp-appsecret.key"  # noqa: S105 - a file name: the Official Account AppSecret
# Identifiers, not secrets: what the merchant platform would show for the development keys.
WECHATPAY_CERT_SERIAL_NO = "4B6F70617920646576206D65726368616E742031"
WECHATPAY_PUBLIC_KEY_ID = "PUB_KEY_ID_0111111111111111111111111111"


def private_key_path(directory: str | Path, name: str) -> Path:
    return Path(directory) / f"{name}.key.pem"


def public_key_path(directory: str | Path, name: str) -> Path:
    return Path(directory) / f"{name}.pub.pem"


def dev_keys_ensure(directory: str | Path) -> None:
    """Make every missing piece of development material in ``directory``."""
    directory = Path(directory)
    if _complete(directory):
        return
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".kpay-development-keys.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in KEY_PAIRS:
            _keypair_ensure(directory, name)
        if not (directory / WECHATPAY_PLATFORM_CERT).exists():
            _platform_certificate_write(directory)
        if not (directory / WECHATPAY_APIV3_KEY).exists():
            alphabet = string.ascii_letters + string.digits
            apiv3_key = "".join(secrets.choice(alphabet) for _ in range(32))
            _write_atomically(directory / WECHATPAY_APIV3_KEY, apiv3_key.encode(), 0o600)
        if not (directory / WECHATPAY_V2_KEY).exists():
            alphabet = string.ascii_letters + string.digits
            v2_key = "".join(secrets.choice(alphabet) for _ in range(32))
            _write_atomically(directory / WECHATPAY_V2_KEY, v2_key.encode(), 0o600)
        if not (directory / WECHAT_MP_APP_SECRET).exists():
            _write_atomically(directory / WECHAT_MP_APP_SECRET, secrets.token_hex(16).encode(), 0o600)
        if not (directory / DEVELOPMENT_KEYS_MARKER).exists():
            note = b"Development key material made by kpay's devtools: never use it in production.\n"
            _write_atomically(directory / DEVELOPMENT_KEYS_MARKER, note, 0o644)


def ensure_dev_keypair(directory: str | Path, name: str) -> tuple[Path, Path]:
    """Paths of ``<name>.key.pem`` and ``<name>.pub.pem`` in ``directory``, generated
    on first use (also for tests that need a key pair nobody trusts)."""
    directory = Path(directory)
    if not (private_key_path(directory, name).exists() and public_key_path(directory, name).exists()):
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / f".{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            _keypair_ensure(directory, name)
    return private_key_path(directory, name), public_key_path(directory, name)


@dataclass(frozen=True)
class DevMaterial:
    """Everything a merchant and WeChat Pay would each hold, for development.

    The merchant's API key pair and certificate serial, the "WeChat Pay public key"
    pair and its ``PUB_KEY_ID_…``, a platform certificate (a second key pair), the
    APIv3 key and the v2 API key (the withholding APIs are v2). The simulator holds the
    private halves of WeChat Pay's keys.
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
    apiv3_key_path: Path
    apiv3_key: str
    v2_key_path: Path | None = None  # the v2 API key (papay), 32 characters
    v2_key: str = ""
    mp_app_secret_path: Path | None = None  # the Official Account's AppSecret (web authorisation)
    mp_app_secret: str = ""


def ensure_dev_material(directory: str | Path) -> DevMaterial:
    """WeChat Pay's development material in ``directory`` (made first if missing)."""
    directory = Path(directory)
    dev_keys_ensure(directory)
    certificate = x509.load_pem_x509_certificate((directory / WECHATPAY_PLATFORM_CERT).read_bytes())
    return DevMaterial(
        merchant_private_path=private_key_path(directory, WECHATPAY_MERCHANT),
        merchant_public_path=public_key_path(directory, WECHATPAY_MERCHANT),
        cert_serial_no=WECHATPAY_CERT_SERIAL_NO,
        pubkey_private_path=private_key_path(directory, WECHATPAY_PUBKEY),
        pubkey_public_path=public_key_path(directory, WECHATPAY_PUBKEY),
        public_key_id=WECHATPAY_PUBLIC_KEY_ID,
        platform_private_path=private_key_path(directory, WECHATPAY_PLATFORM),
        platform_cert_path=directory / WECHATPAY_PLATFORM_CERT,
        platform_serial=format(certificate.serial_number, "X"),
        apiv3_key_path=directory / WECHATPAY_APIV3_KEY,
        apiv3_key=(directory / WECHATPAY_APIV3_KEY).read_text().strip(),
        v2_key_path=directory / WECHATPAY_V2_KEY,
        v2_key=(directory / WECHATPAY_V2_KEY).read_text().strip(),
        mp_app_secret_path=directory / WECHAT_MP_APP_SECRET,
        mp_app_secret=(directory / WECHAT_MP_APP_SECRET).read_text().strip(),
    )


def _complete(directory: Path) -> bool:
    files = [
        directory / WECHATPAY_PLATFORM_CERT,
        directory / WECHATPAY_APIV3_KEY,
        directory / WECHATPAY_V2_KEY,
        directory / WECHAT_MP_APP_SECRET,
    ]
    files += [directory / DEVELOPMENT_KEYS_MARKER]
    for name in KEY_PAIRS:
        files += [private_key_path(directory, name), public_key_path(directory, name)]
    return all(path.exists() for path in files)


def _keypair_ensure(directory: Path, name: str) -> None:
    """Under the caller's lock: write the pair unless both halves are there."""
    private_path, public_path = private_key_path(directory, name), public_key_path(directory, name)
    if private_path.exists() and public_path.exists():
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_atomically(
        private_path,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        0o600,
    )
    _write_atomically(
        public_path,
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        0o644,
    )


def _platform_certificate_write(directory: Path) -> None:
    platform_key = serialization.load_pem_private_key(
        private_key_path(directory, WECHATPAY_PLATFORM).read_bytes(), password=None
    )
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
    _write_atomically(
        directory / WECHATPAY_PLATFORM_CERT, certificate.public_bytes(serialization.Encoding.PEM), 0o644
    )


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """A reader never sees half a file: write a temporary file, then rename it."""
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
