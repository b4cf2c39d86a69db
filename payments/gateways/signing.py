"""RSA key loading and SHA256withRSA signatures, for gateway clients (and the simulators).

Every gateway we speak to signs with SHA256withRSA (PKCS#1 v1.5) and base64; only
the message layout differs, and that stays in each gateway module.
"""

import base64
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
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


def unix_timestamp(text: str) -> int | None:
    """A signature header's Unix timestamp in seconds, or None when it is not one: ASCII
    digits only (``str.isdigit`` admits "²" and other scripts' digits) and at most 12 of
    them (a 5,000-digit header would otherwise reach ``int`` and its digit limit)."""
    if not (isinstance(text, str) and 0 < len(text) <= 12 and text.isascii() and text.isdigit()):
        return None
    return int(text)


def new_nonce() -> str:
    return secrets.token_hex(16)
