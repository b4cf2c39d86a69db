"""API tokens (django-rest-knox): issuing, listing, revoking.

Only a SHA-512 digest of each token is stored (and its first characters, to find it); the
token itself is shown once, to the client that asked for it. Learners name a token by
:func:`token_id`, a prefix of the digest, which reveals nothing of the token.
"""

from django.utils import timezone
from knox.models import AuthToken

TOKEN_ID_LENGTH = 16


def token_id(token: AuthToken) -> str:
    return token.digest[:TOKEN_ID_LENGTH]


def issue_token(user) -> tuple[AuthToken, str]:
    """A new token for ``user`` (expiring after ``KPAY_API_TOKEN_TTL``): the record and the
    secret, which is never stored. The user's expired tokens are cleared on the way."""
    AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    return AuthToken.objects.create(user=user)


def live_tokens(user):
    return AuthToken.objects.filter(user=user, expiry__gt=timezone.now()).order_by("-created")


def find_token(user, identifier: str) -> AuthToken | None:
    if len(identifier) != TOKEN_ID_LENGTH or not all(c in "0123456789abcdef" for c in identifier):
        return None
    return live_tokens(user).filter(digest__startswith=identifier).first()


def revoke_all(user) -> int:
    """Delete every API token of ``user``; how many there were."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted
