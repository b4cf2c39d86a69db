"""kpay's logs: one JSON object per line in production, with the request id, the Celery
task and the order, payment, refund or payout number they concern, scrubbed of secrets.

* :func:`log_context` binds fields (``request_id``, ``task_id``, ``order_no`` …) to
  everything logged while it is active, across function calls (a context variable):
  the request id middleware binds the request's, Celery's signals the task's
  (``core.request_id``).
* :class:`ContextFilter` copies the bound fields, the client's IP and the public numbers
  a message names (``K…``, ``P…``, ``R…``, ``W…``: see ``orders.numbers``) onto every record.
* :class:`JsonFormatter` (python-json-logger) and :class:`PlainFormatter` scrub what they
  write with :func:`scrub`: known secret values from the settings, private keys,
  credentials in URLs, ``Authorization`` values, ``password=…``-like pairs, and every
  standalone run of 11 or more digits (card and bank account numbers, phone numbers),
  of which only the last four digits are kept. The formatters scrub, not a filter, so
  nothing reaches a handler's output unscrubbed, whichever logger it came through.
"""

import contextvars
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

REDACTED = "[redacted]"

# --- the scrubber ------------------------------------------------------------------------

_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(?:-----END [A-Z0-9 ]+-----|\Z)", re.DOTALL)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/?#@\s]*):[^@/?#\s]+@")
_AUTH_SCHEME = re.compile(
    r"(?P<scheme>\b(?:Bearer|Token|Basic|Digest|WECHATPAY2-SHA256-RSA2048)\s+)[^\s\"',;]{8,}",
    re.IGNORECASE,
)
# Sensitive names: key=value, key: value, "key": "value" (JSON), in any case.
SENSITIVE_NAME = (
    r"(?:[a-z0-9_-]*?(?:password|passwd|passphrase|secret|token|api[_-]?v?3?[_-]?key|private[_-]?key|"
    r"authori[sz]ation|cookie|session[_-]?id|csrf|signature|otp|cvv2?|cvc|card[_-]?(?:no|num|number)|"
    r"account[_-]?(?:no|num|number)|bank[_-]?account|dsn)[a-z0-9_-]*"
    r"|(?:[a-z0-9]+[_-])?sign)"  # sign, sign_type is not
)
_SENSITIVE_KEY = re.compile(rf"^{SENSITIVE_NAME}$", re.IGNORECASE)
_SENSITIVE_PAIR = re.compile(
    rf"(?P<key>[\"']?\b{SENSITIVE_NAME}[\"']?\s*(?:=|:)\s*)"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s,;&}\]\)]+)",
    re.IGNORECASE,
)
# Card numbers, bank accounts, phone numbers: 11+ digits standing alone (spaces or dashes
# between groups allowed). Public numbers (K2611249F3KQ0ZP1XT7A) are never standalone digits,
# nor are a UUID's groups (a task id's 8541b393-1234-5678-9308-dd14e6583afa): a dash joined
# to the digits on either side makes them part of a longer word; a dot after them only
# when a digit follows (a decimal), not a sentence's full stop.
_LONG_DIGITS = re.compile(r"(?<![\w.-])\d(?:[ -]?\d){10,}(?![\w-]|\.\d)")
_HINT = re.compile(
    r"pass|secret|token|key|auth|cookie|session|csrf|sign|otp|cvv|cvc|card|account|dsn|bearer|basic|digest|wechatpay",
    re.IGNORECASE,
)
_DIGITS_HINT = re.compile(r"\d{4}")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@(?P<domain>[A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")


def _mask_digits(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"[number ****{digits[-4:]}]"


def _redact_pair(match: re.Match) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in "\"'" else ""
    return f"{match.group('key')}{quote}{REDACTED}{quote}"


def scrub(text: str, *, emails: bool = False, secrets: tuple[str, ...] | None = None) -> str:
    """``text`` with every secret, card-like or account-like number removed (see the
    module's docstring); with ``emails``, e-mail addresses too (error reports)."""
    if not text:
        return text
    for secret in known_secrets() if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "-----BEGIN" in text:
        text = _PEM.sub("[private key]", text)
    if "://" in text and "@" in text:
        text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{REDACTED}@", text)
    if _HINT.search(text):  # the costly patterns only where one of their words appears
        text = _AUTH_SCHEME.sub(lambda m: f"{m.group('scheme')}{REDACTED}", text)
        text = _SENSITIVE_PAIR.sub(_redact_pair, text)
    if _DIGITS_HINT.search(text):
        text = _LONG_DIGITS.sub(_mask_digits, text)
    if emails:
        text = _EMAIL.sub(lambda m: f"[email]@{m.group('domain')}", text)
    return text


def is_sensitive_key(key: Any) -> bool:
    return isinstance(key, str) and _sensitive_key(key)


@lru_cache(maxsize=1024)
def _sensitive_key(key: str) -> bool:
    return bool(_SENSITIVE_KEY.match(key))


def scrub_value(
    value: Any, *, emails: bool = False, depth: int = 0, secrets: tuple[str, ...] | None = None
) -> Any:
    """``value`` with :func:`scrub` applied to every string in it, and the value of every
    sensitive key (``password``, ``token``, ``account_number`` …) replaced."""
    if secrets is None:
        secrets = known_secrets()
    if depth > 8:
        return REDACTED
    if isinstance(value, str):
        return scrub(value, emails=emails, secrets=secrets)
    if value is None or isinstance(value, bool | int | float):
        return value
    deeper = {"emails": emails, "depth": depth + 1, "secrets": secrets}
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_sensitive_key(key) else scrub_value(item, **deeper)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_value(item, **deeper) for item in value]
    return scrub(str(value), emails=emails, secrets=secrets)


def known_secrets() -> tuple[str, ...]:
    """The secret values in the settings (8+ characters), to be replaced wherever they appear."""
    from django.conf import settings

    if not settings.configured:
        return ()
    return _known_secrets(id(settings._wrapped))


@lru_cache(maxsize=4)
def _known_secrets(_settings_id: int) -> tuple[str, ...]:
    from urllib.parse import urlsplit

    from django.conf import settings

    found: set[str] = set()

    def add(value):
        if isinstance(value, str) and len(value) >= 8:
            found.add(value)

    add(getattr(settings, "SECRET_KEY", ""))
    for key in getattr(settings, "SECRET_KEY_FALLBACKS", ()) or ():
        add(key)
    for key in getattr(settings, "KPAY_FIELD_ENCRYPTION_KEYS", ()) or ():
        add(key)
    add(getattr(settings, "KPAY_METRICS_TOKEN", ""))
    add(getattr(settings, "EMAIL_HOST_PASSWORD", ""))
    for database in getattr(settings, "DATABASES", {}).values():
        add(database.get("PASSWORD", ""))
    for url in (getattr(settings, "CELERY_BROKER_URL", ""), getattr(settings, "SENTRY_DSN", "")):
        try:
            parts = urlsplit(url or "")
        except ValueError:
            continue
        add(parts.password or "")
        add(parts.username or "" if parts.password is None and parts.username else "")
    for cache in getattr(settings, "CACHES", {}).values():
        location = cache.get("LOCATION", "")
        for url in location if isinstance(location, list | tuple) else [location]:
            try:
                add(urlsplit(str(url)).password or "")
            except ValueError:
                continue
    for gateway in (getattr(settings, "KPAY_GATEWAYS", {}) or {}).values():
        for name, value in (gateway.get("OPTIONS", {}) if isinstance(gateway, dict) else {}).items():
            if is_sensitive_key(name) and not str(name).endswith(("_path", "_dir", "_id", "_no")):
                add(value)
    # Longest first, so a secret containing another is replaced whole.
    return tuple(sorted(found, key=len, reverse=True))


# --- context -------------------------------------------------------------------------

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "kpay_log_context", default=None
)

# Fields a log line may carry about what it concerns (numbers come from orders.numbers).
NUMBER_FIELDS = {"K": "order_no", "P": "payment_no", "R": "refund_no", "W": "payout_no"}
_PUBLIC_NUMBER = re.compile(r"(?<![0-9A-Za-z])([KPRW])\d{6}[0-9A-Z]{13}(?![0-9A-Za-z])")


def bound() -> dict[str, Any]:
    """The fields bound by the enclosing :func:`log_context` blocks."""
    return dict(_context.get() or {})


@contextmanager
def log_context(**fields) -> Iterator[dict[str, Any]]:
    """Bind ``fields`` to every record logged inside the block (None values are skipped)."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield _context.get() or {}
    finally:
        _context.reset(token)


def bind(**fields) -> contextvars.Token:
    """Bind ``fields`` until :func:`unbind` with the returned token (for code that cannot
    use a ``with`` block, such as Celery's prerun/postrun signals)."""
    return _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


def unbind(token: contextvars.Token) -> None:
    _context.reset(token)


def numbers_in(text: str) -> dict[str, str]:
    """The first order, payment, refund and payout number named in ``text``, by field."""
    found: dict[str, str] = {}
    for match in _PUBLIC_NUMBER.finditer(text or ""):
        found.setdefault(NUMBER_FIELDS[match.group(1)], match.group(0))
    return found


class ContextFilter(logging.Filter):
    """Adds the bound context, ``client_ip`` ("-" outside a request) and the public numbers
    the message names to every record (fields already set on the record win)."""

    def filter(self, record):
        from .http import ClientIpLogFilter

        ClientIpLogFilter().filter(record)
        request_id = getattr(getattr(record, "request", None), "request_id", None)
        if request_id and not hasattr(record, "request_id"):  # logged after the middleware returned
            record.request_id = request_id
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it itself
            message = str(record.msg)
        for key, value in numbers_in(message).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


# --- formatters ------------------------------------------------------------------------

# LogRecord attributes that are never written as fields (the request object carries
# headers and cookies; its method and path are written instead).
_DROPPED = {"request", "args", "msg", "exc_info", "exc_text", "stack_info", "server_time"}


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, the context fields and any ``extra``; every value scrubbed."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data, record, message_dict):
        log_data["time"] = (
            datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        super().add_fields(log_data, record, message_dict)
        request = getattr(record, "request", None)
        if hasattr(request, "method") and hasattr(request, "path"):
            log_data.setdefault("method", request.method)
            log_data.setdefault("path", request.path)
        for key in _DROPPED:
            if key != "exc_info":
                log_data.pop(key, None)

    def process_log_record(self, log_data):
        return scrub_value(log_data)


class PlainFormatter(logging.Formatter):
    """Development's one line per record, scrubbed as the JSON formatter scrubs."""

    def format(self, record):
        for field in ("client_ip", "request_id"):
            if not hasattr(record, field):
                setattr(record, field, "-")
        return scrub(super().format(record))
