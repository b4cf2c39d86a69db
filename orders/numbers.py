"""Public numbers for orders and payments.

They are shown to learners and sent to gateways as ``out_trade_no``, so they must be
valid there (6-32 characters of ``[0-9A-Za-z_-]``) and must not be enumerable: a
date prefix for people reading bills, then 64 bits of randomness.
"""

import secrets
import string

from django.utils import timezone

_ALPHABET = string.digits + string.ascii_uppercase
_BASE = len(_ALPHABET)
_RANDOM_CHARS = 13  # 36**13 > 2**64


def new_public_number(prefix: str) -> str:
    """``prefix`` + local date (YYMMDD) + 13 random base-36 characters, e.g. ``K2611249F3KQ0ZP1XT7A``."""
    # One draw of 13 base-36 digits (as uniform as 13 draws of one, and a tenth of the calls).
    value, digits = secrets.randbelow(_BASE**_RANDOM_CHARS), []
    for _ in range(_RANDOM_CHARS):
        value, digit = divmod(value, _BASE)
        digits.append(_ALPHABET[digit])
    random_part = "".join(digits)
    return f"{prefix}{timezone.localdate():%y%m%d}{random_part}"
