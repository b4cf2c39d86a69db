"""RSA key handling and SHA256withRSA signatures, shared by gateway clients and simulators.

Every gateway we speak to signs with SHA256withRSA (PKCS#1 v1.5) and base64; only
the message layout differs, and that stays in each gateway module.
"""

import base64
import fcntl
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey


def sign_sha256_rsa(private_key: RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify_sha256_rsa(public_key: RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def load_private_key(path: str | Path) -> RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return key


def load_public_key(path: str | Path) -> RSAPublicKey:
    data = Path(path).read_bytes()
    if b"CERTIFICATE" in data:
        from cryptography import x509

        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, RSAPublicKey):
        raise ValueError(f"{path} is not an RSA public key")
    return key


def ensure_dev_keypair(directory: str | Path, name: str) -> tuple[Path, Path]:
    """Paths of ``<name>.key.pem`` and ``<name>.pub.pem``, generated on first use.

    For development and tests only: production keys come from the gateways. A lock
    file makes concurrent first uses (web server, worker) agree on one pair.
    """
    directory = Path(directory)
    private_path, public_path = directory / f"{name}.key.pem", directory / f"{name}.pub.pem"
    if private_path.exists() and public_path.exists():
        return private_path, public_path
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (private_path.exists() and public_path.exists()):
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _write_atomically(
                private_path,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
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
    return private_path, public_path


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def new_nonce() -> str:
    return secrets.token_hex(16)
