"""Staff second factor beyond the authenticator app: recovery codes and enrolment links.

**Recovery codes** (django-otp's ``otp_static``): ten codes made when a staff member
enrols (and whenever they make new ones, which invalidates the old), shown once, each
usable once at the admin login instead of the app's code. ``otp_static`` keeps its
tokens as plain text (``StaticToken.token``, a 16-character column matched by equality),
so kpay never gives it a code: it stores ``digest(code)``, the first 80 bits of the
code's SHA-256 in base32 (16 characters), and looks the digest of what is typed up.
A code is 80 random bits, so an unsalted digest is enough (as for API tokens): the
database alone gives no code back. Verification goes through ``django_otp.verify_token``
(the device row locked, the code deleted when used, the device throttled after wrong
codes).

**Enrolment links.** Setting up the first authenticator app takes the password and a
link a superuser issued for that staff member (``OtpEnrolment``: one use, expires after
``KPAY_OTP_ENROLMENT_TTL``, stored as a SHA-256 digest), given to them out of band: a
stolen password alone no longer enrols the thief's phone.
"""

import hashlib
import secrets
from base64 import b32encode
from datetime import timedelta

import django_otp
from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

RECOVERY_CODE_COUNT = 10
RECOVERY_DEVICE_NAME = "recovery codes"


# -- recovery codes -----------------------------------------------------------------
def normalize_code(code: str) -> str:
    """What the user typed, as codes are generated: lower case, no spaces or dashes."""
    return "".join((code or "").split()).replace("-", "").lower()


def code_digest(code: str) -> str:
    """What ``otp_static`` stores for a code: 16 base32 characters of its SHA-256."""
    return b32encode(hashlib.sha256(normalize_code(code).encode()).digest()[:10]).decode().lower()


def _new_code() -> str:
    raw = b32encode(secrets.token_bytes(10)).decode().lower()  # 16 characters, 80 bits
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def looks_like_recovery_code(token: str) -> bool:
    code = normalize_code(token)
    return len(code) == 16 and all(c in "abcdefghijklmnopqrstuvwxyz234567" for c in code)


@transaction.atomic
def recovery_codes_regenerate(user) -> list[str]:
    """New recovery codes for ``user``, returned once (only their digests are kept); the
    old ones stop working."""
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [_new_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code_digest(code)) for code in codes)
    return codes


def recovery_codes_left(user) -> int:
    from django_otp.plugins.otp_static.models import StaticToken

    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def verify_recovery_code(user, token: str):
    """The recovery-code device of ``user`` that accepted ``token`` (now used up), or None."""
    from django_otp.plugins.otp_static.models import StaticDevice

    if not looks_like_recovery_code(token):
        return None
    digest = code_digest(token)
    for device in StaticDevice.objects.filter(user=user, confirmed=True):
        verified = django_otp.verify_token(user, device.persistent_id, digest)
        if verified is not None:
            return verified
    return None


def recovery_device_counts(queryset):
    """``queryset`` of static devices with ``codes_left`` (for the admin: a count, no code)."""
    return queryset.annotate(codes_left=Count("token_set"))


@transaction.atomic
def second_factor_reset(*, user) -> None:
    """A superuser resets a lost second factor: the user's authenticator apps and recovery
    codes go; they enrol again with a new link."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


# -- enrolment links ------------------------------------------------------------------
def enrolment_ttl() -> timedelta:
    return getattr(settings, "KPAY_OTP_ENROLMENT_TTL", timedelta(hours=72))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def enrolment_issue(*, user, by, now=None):
    """A one-use enrolment link for ``user`` issued by the superuser ``by``: returns the
    ``OtpEnrolment`` and its token (shown once; only its digest is kept). Earlier unused
    links of the user are withdrawn."""
    from .models import OtpEnrolment

    now = now or timezone.now()
    OtpEnrolment.objects.filter(user=user, used_at__isnull=True, withdrawn_at__isnull=True).update(
        withdrawn_at=now
    )
    token = secrets.token_urlsafe(32)
    enrolment = OtpEnrolment.objects.create(
        user=user,
        issued_by=by,
        issued_at=now,
        expires_at=now + enrolment_ttl(),
        token_digest=token_digest(token),
    )
    return enrolment, token


def enrolment_open(*, user, token: str = "", pk: int | None = None, now=None):
    """The open enrolment of ``user`` named by ``token`` (or by ``pk``, once the link was
    followed): unused, not withdrawn, not expired. None otherwise."""
    from .models import OtpEnrolment

    now = now or timezone.now()
    enrolments = OtpEnrolment.objects.filter(
        user=user, used_at__isnull=True, withdrawn_at__isnull=True, expires_at__gt=now
    )
    if pk is not None:
        return enrolments.filter(pk=pk).first()
    if not token or len(token) > 128:
        return None
    return enrolments.filter(token_digest=token_digest(token)).first()


def enrolment_use(*, enrolment, now=None) -> bool:
    """Mark the enrolment used; False if it was used or withdrawn meanwhile."""
    from .models import OtpEnrolment

    now = now or timezone.now()
    return bool(
        OtpEnrolment.objects.filter(pk=enrolment.pk, used_at__isnull=True, withdrawn_at__isnull=True).update(
            used_at=now
        )
    )
