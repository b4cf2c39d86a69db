"""WeChat Pay's side of the v3 protocol, which only the simulator plays: signing answers
and notifications. The merchant's side is :mod:`payments.gateways.wechatpay.protocol`."""

import secrets
import time

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from payments.gateways.signing import sign_sha256_rsa
from payments.gateways.wechatpay.protocol import SIGNATURE_TYPE, new_nonce, response_message


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
