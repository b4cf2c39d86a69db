"""Bank account numbers encrypted at rest (payouts), with ``cryptography``'s Fernet.

The keys come from the environment (``KPAY_FIELD_ENCRYPTION_KEY``: Fernet keys, newest
first, comma-separated; ``settings.KPAY_FIELD_ENCRYPTION_KEYS``). A ``MultiFernet``
encrypts with the first and decrypts with any, so a key is rotated by putting a new one
first, running ``manage.py rotate_field_encryption`` (re-encrypts every number with it)
and then dropping the old one. Development generates a key into ``var/``; production
refuses to start without one (``kpay.settings``).

:class:`EncryptedTextField` stores the Fernet token (AES-128-CBC with HMAC-SHA256, a
random IV each time: the same number never looks the same twice) and gives back the
number in Python. An empty value stays empty (``""``), so "has an account number" can
still be asked of the database; nothing else can be looked up by value. Who may see a
number in full is :func:`courses.permissions.may_see_bank_accounts`; everyone else sees
:func:`mask` of the stored last four digits.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.KPAY_FIELD_ENCRYPTION_KEYS))


def encrypt(text: str) -> str:
    """The Fernet token of ``text`` (newest key); ``""`` stays ``""``."""
    return fernet().encrypt(text.encode()).decode() if text else ""


def decrypt(token: str) -> str:
    """The text of a token made with any configured key. A token none of them opens
    (a key dropped too early, or a value never encrypted) is a configuration error,
    never a silent blank."""
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "An encrypted bank account number cannot be read with KPAY_FIELD_ENCRYPTION_KEY: "
            "the key it was encrypted with is missing from the list."
        ) from None


def rotate(token: str) -> str:
    """``token`` re-encrypted with the newest key."""
    return fernet().rotate(token.encode()).decode() if token else ""


def last4(number: str) -> str:
    return number[-4:]


def mask(last_four: str) -> str:
    """``**** 1234``: what everyone but finance sees of an account number."""
    return f"**** {last_four}" if last_four else "-"


class EncryptedTextField(models.TextField):
    """A text column holding a Fernet token; the model attribute is the plain text."""

    def from_db_value(self, value, expression, connection):
        return value if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value if value is None else encrypt(str(value))
