"""The account API: a token for ``{username, password}``, the learner's tokens, log out.

``POST auth/token/`` → ``{"token", "expiry"}``; then send ``Authorization: Token <token>``.
Wrong passwords count towards the login lockout (django-axes, keyed on username and
:func:`core.http.client_ip`) and the endpoint is throttled per client IP as well.
"""

from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in, user_logged_out
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_response
from core.api.schema import error_responses
from core.api.throttling import ClientIpScopedRateThrottle

from . import tokens
from .authentication import TokenAuthentication


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`. Shown once.")
    expiry = serializers.DateTimeField()


class TokenInfoSerializer(serializers.Serializer):
    id = serializers.CharField()
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField()
    current = serializers.BooleanField(help_text="The token this request was made with.")


def lockout_message() -> str:
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    return str(
        _("Too many failed logins for this account from your address. Try again in %(minutes)d minutes.")
        % {"minutes": minutes}
    )


def locked_out_response():
    response = error_response("login_locked", lockout_message(), status.HTTP_429_TOO_MANY_REQUESTS)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response


class TokenApi(APIView):
    """``{username, password}`` → a new API token and its expiry."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ClientIpScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: IssuedTokenSerializer,
            **error_responses(
                {
                    400: "`invalid`: a field is missing, or the username and password do not match",
                    429: "`throttled` (too many requests from this address) or `login_locked`"
                    " (too many failed logins for this account); see `Retry-After`",
                }
            ),
        },
        auth=[],
    )
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request=request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None:
            if getattr(request, "axes_locked_out", False):
                return locked_out_response()
            raise serializers.ValidationError(
                {"non_field_errors": [_("Unable to log in with the username and password given.")]},
                code="authorization",
            )
        instance, secret = tokens.issue_token(user)
        # Resets the lockout count (django-axes) and records the login.
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        return Response(IssuedTokenSerializer({"token": secret, "expiry": instance.expiry}).data)


class TokenListApi(APIView):
    """The learner's live API tokens (never the secrets); DELETE revokes them all."""

    permission_classes = [IsAuthenticated]

    def _current_digest(self, request):
        return getattr(request.auth, "digest", None)

    @extend_schema(responses={200: TokenInfoSerializer(many=True)})
    def get(self, request):
        current = self._current_digest(request)
        rows = [
            {"id": tokens.token_id(t), "created": t.created, "expiry": t.expiry}
            | {"current": t.digest == current}
            for t in tokens.live_tokens(request.user)
        ]
        return Response(TokenInfoSerializer(rows, many=True).data)

    @extend_schema(operation_id="auth_tokens_revoke_all", responses={204: None})
    def delete(self, request):
        tokens.revoke_all(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenDetailApi(APIView):
    """Revoke one of the learner's tokens by its ``id`` (from the list)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="auth_tokens_revoke",
        responses={204: None, **error_responses({404: "`not_found`: no such token"})},
    )
    def delete(self, request, token_id):
        token = tokens.find_token(request.user, token_id)
        if token is None:
            return error_response("not_found", _("No such token."), status.HTTP_404_NOT_FOUND)
        token.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutApi(APIView):
    """Revoke the token this request was made with."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: OpenApiResponse(description="The token is revoked.")})
    def post(self, request):
        request.auth.delete()
        user_logged_out.send(sender=request.user.__class__, request=request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
