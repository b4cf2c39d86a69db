"""API token authentication: knox's, without its per-request sweep of the user's tokens.

knox's ``TokenAuthentication`` loads and checks *every* token of the user on each request to
delete the expired ones: one more query on every API call, growing with the user's
tokens. Here a request checks only its own token's expiry; expired tokens of the user are
cleared when a new one is issued (``accounts.tokens.issue_token``), and an expired token is
refused either way.
"""

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.signals import token_expired


class TokenAuthentication(KnoxTokenAuthentication):
    def _cleanup_token(self, auth_token) -> bool:
        """True (and the token deleted) when ``auth_token`` itself has expired."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of these tokens: knox's (``Authorization: Token …``)."""

    target_class = "accounts.authentication.TokenAuthentication"
    name = "tokenAuth"
