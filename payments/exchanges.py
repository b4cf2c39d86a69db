"""Keeping every exchange with a gateway, with secrets taken out."""

import re

import httpx

from .models import GatewayExchange

_MAX_BODY = 20_000
# WeChat's web authorisation sends the Official Account's AppSecret (``secret=``) and
# answers with the learner's access and refresh tokens.
_SECRET_PARAMS = re.compile(
    r'((?:signature|sign|nonce_str|ciphertext|secret|access_token|refresh_token)["=:]+\s*"?)[^"&,\s]+', re.I
)


def redact(text: str) -> str:
    """Drop signatures and encrypted payloads; keep what helps support read the exchange."""
    return _SECRET_PARAMS.sub(r"\1[redacted]", text)[:_MAX_BODY]


def exchange_record(
    *,
    gateway: str,
    operation: str,
    trade_no: str,
    request: httpx.Request,
    response: httpx.Response | None,
    error: str,
    duration_ms: int,
) -> None:
    GatewayExchange.objects.create(
        gateway=gateway,
        operation=operation,
        trade_no=trade_no,
        method=request.method,
        url=redact(str(request.url))[:500],  # Alipay signs in the query string
        request_body=redact(request.content.decode("utf-8", "replace")),
        status_code=response.status_code if response is not None else None,
        response_body=redact(response.text) if response is not None else "",
        error=error,
        duration_ms=duration_ms,
    )
